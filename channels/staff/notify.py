"""Send notices the console just wrote, through the residents' channels' outbound senders.

A channel that is not configured on this server has no sender: its notice stays ``pending``
(recorded, and sent once the channel is configured).
"""

from __future__ import annotations

import logging

from fastapi import Request
from sqlalchemy import select

from bot.runtime import Runtime
from bot.storage.models import Notice
from channels import live
from channels.outbound import app_senders, deliver_pending

log = logging.getLogger(__name__)


async def send(request: Request, runtime: Runtime, notice_ids: list[int]) -> dict[int, str]:
    """Try to send now; returns each notice's status afterwards (sent, delivered, pending...)."""
    if not notice_ids:
        return {}
    try:
        await deliver_pending(runtime, app_senders(request.app))
    except Exception:  # the notice stays pending; the app's delivery loop tries again
        log.exception("sending notices failed")
    live.streams(request.app).wake()  # the resident's open web chat fetches it now
    with runtime.db.sessions() as session:
        rows = session.execute(select(Notice.id, Notice.status).where(Notice.id.in_(notice_ids)))
        return {row.id: row.status for row in rows}


def describe(status: str | None) -> str:
    return {
        "sent": "sent",
        "delivered": "delivered",
        "pending": "recorded as pending (it goes out once the resident's channel is configured)",
        "sending": "being sent",
        "failed": "not delivered",
    }.get(status or "", "recorded")
