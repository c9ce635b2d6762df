"""What staff see of the outbox and what they may do: list it, count it, retry a row."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from bot.storage.db import Database
from bot.storage.models import OutboxMessage, ServiceRequest, utcnow

log = logging.getLogger(__name__)


class NotRetryable(ValueError):
    pass


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    reference: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_to: str | None
    delivered_at: datetime | None
    maybe_filed: bool = False  # an answer was lost: the back office may hold it already
    external_token: str | None = None  # filed; the back office's id is still being asked for

    @property
    def outcome(self) -> str:
        """What staff need to know before pressing Retry."""
        if self.external_token:
            return f"filed: waiting for the back office's id (token {self.external_token})"
        if self.maybe_filed:
            return "unknown: may have been filed"
        return "not filed" if self.status != "delivered" else "filed"


def summary(db: Database) -> dict[str, int]:
    """Rows per status, e.g. {"pending": 3, "delivered": 120, "dead": 1}."""
    with db.sessions() as session:
        rows = session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return {status: count for status, count in rows}


def listing(db: Database, status: str | None = None, limit: int = 100) -> list[OutboxEntry]:
    query = (
        select(OutboxMessage, ServiceRequest.reference)
        .outerjoin(ServiceRequest, ServiceRequest.id == OutboxMessage.request_id)
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(OutboxMessage.status == status)
    with db.sessions() as session:
        return [
            OutboxEntry(
                row.id,
                reference,
                row.status,
                row.attempts,
                row.next_attempt_at,
                row.last_error,
                row.delivered_to,
                row.delivered_at,
                row.maybe_filed,
                row.external_token,
            )
            for row, reference in session.execute(query)
        ]


def retry(db: Database, outbox_id: int, actor: str) -> None:
    """Put a dead (or waiting) row back in line now, with a fresh count of attempts."""
    with db.transaction() as session:
        row = session.get(OutboxMessage, outbox_id, with_for_update=True)
        if row is None:
            raise NotRetryable(f"no outbox row {outbox_id}")
        if row.status == "delivered":
            raise NotRetryable(f"outbox row {outbox_id} was already delivered")
        row.status = "pending"
        row.attempts = 0
        row.next_attempt_at = utcnow()
        row.claimed_by = row.claimed_until = None
    log.info("outbox %s put back for delivery by %s", outbox_id, actor)


def retry_dead(db: Database, outbox_id: int, actor: str) -> bool:
    """Put a dead row back in line; False (and nothing done) if it is not dead any more.

    Only a dead row is touched, in one compare-and-set, so a second press of the console's
    button (or two staff pressing at once) cannot pull a row from under a dispatcher that is
    delivering it.
    """
    with db.transaction() as session:
        changed = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id, OutboxMessage.status == "dead")
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=utcnow(),
                claimed_by=None,
                claimed_until=None,
            )
        ).rowcount
    if changed:
        log.info("outbox %s put back for delivery by %s", outbox_id, actor)
    return bool(changed)
