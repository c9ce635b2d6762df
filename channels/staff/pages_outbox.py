"""The outbox page: filed requests still on their way to the back office, and a retry for
the dead ones (agents and admins retry; qa reads)."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from bot.backoffice import outbox
from channels.deps import RowId, RuntimeDep
from channels.staff.auth import RequestReader, RequestWriter
from channels.staff.web import flash, page, redirect

router = APIRouter()
PAGE_SIZE = 100  # rows per status shown
# A back office's error text may echo what we sent it: hide e-mail addresses and anything
# that looks like a phone number, but keep our own references (REQ-2026-000123) readable.
_PERSONAL = re.compile(
    r"(?P<reference>\b[A-Z]{2,5}-\d{4}-\d{4,8}\b)"
    r"|(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
    r"|(?P<phone>\+?\d(?:[\s().-]*\d){6,})"
)


def redact(error: str | None) -> str:
    """An error as staff may read it: no e-mail addresses or phone numbers."""
    if not error:
        return ""
    return _PERSONAL.sub(lambda m: m.group("reference") or "[hidden]", error)


@router.get("/staff/outbox", response_class=HTMLResponse)
def outbox_page(request: Request, rt: RuntimeDep, staff: RequestReader) -> HTMLResponse:
    counts = outbox.summary(rt.db)
    sections = [
        ("dead", "Dead: delivery gave up", outbox.listing(rt.db, "dead", PAGE_SIZE)),
        ("pending", "Waiting for delivery", outbox.listing(rt.db, "pending", PAGE_SIZE)),
    ]
    return page(
        request,
        "outbox.html",
        {
            "section": "outbox",
            "counts": counts,
            "sections": sections,
            "page_size": PAGE_SIZE,
            "redact": redact,
        },
    )


@router.post("/staff/outbox/{outbox_id:int}/retry")
async def outbox_retry(
    request: Request, rt: RuntimeDep, staff: RequestWriter, outbox_id: RowId
) -> Response:
    if await run_in_threadpool(outbox.retry_dead, rt.db, outbox_id, staff.name):
        flash(request, f"Outbox row {outbox_id} is back in line: it will be delivered shortly.")
    else:
        flash(
            request,
            f"Outbox row {outbox_id} was not retried: it is not dead (already back in line, "
            "delivered, or gone).",
            "error",
        )
    return redirect("/staff/outbox")
