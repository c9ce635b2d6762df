"""What every route depends on: the runtime, once it is ready; the shape of a row id."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval
from fastapi import Depends, Request

from bot.runtime import Runtime


class NotReady(RuntimeError):
    """The runtime is still being built (first start trains and indexes)."""


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime | None = request.app.state.runtime
    if runtime is None:
        raise NotReady
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

# A row id as a client may send it (path, query, form or JSON): within the database's signed
# 64-bit integers, so an over-large id is a 422 and never reaches SQL (where it overflows).
MAX_ROW_ID = 2**63 - 1
RowId = Annotated[int, Interval(ge=1, le=MAX_ROW_ID)]
