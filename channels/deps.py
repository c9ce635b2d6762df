"""What every route depends on: the runtime, once it is ready."""

from __future__ import annotations

from typing import Annotated

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
