"""Status from the back office back to the resident: poll, record the change, leave a notice.

bot.service_requests.change_status records the event and a pending Notice; the resident's
channel sends it. A change that would move an open request backwards (in progress back to
acknowledged) is ignored: back offices that only know open|closed must not undo our staff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import select

from bot import service_requests
from bot.backoffice import lease
from bot.backoffice.connector import Connector, StatusChange
from bot.storage.db import Database
from bot.storage.models import OutboxMessage, ServiceRequest, utcnow

log = logging.getLogger(__name__)
LEASE_NAME = "status_sync"
OPEN_RANK = {"submitted": 0, "acknowledged": 1, "in_progress": 2}


def should_apply(request: ServiceRequest, change: StatusChange) -> bool:
    if change.status == request.status:
        return bool(change.note) and change.note != request.status_note
    current, new = OPEN_RANK.get(request.status), OPEN_RANK.get(change.status)
    return not (current is not None and new is not None and new < current)


def apply_changes(db: Database, connector_name: str, changes: Iterable[StatusChange]) -> int:
    """Apply what the back office reports; returns how many requests changed."""
    changed = 0
    for change in changes:
        if change.status not in service_requests.STATUSES:
            log.warning("status sync: unknown status %r ignored", change.status)
            continue
        with db.transaction() as session:
            request = session.scalar(
                select(ServiceRequest)
                .join(OutboxMessage, OutboxMessage.request_id == ServiceRequest.id)
                .where(
                    ServiceRequest.external_id == change.external_id,
                    OutboxMessage.delivered_to == connector_name,
                )
                .with_for_update(of=ServiceRequest)
            )
            if request is None or not should_apply(request, change):
                continue
            service_requests.change_status(
                session, request, change.status, f"backoffice:{connector_name}", change.note
            )
            changed += 1
            log.info(
                "request %s is now %s (from %s)", request.reference, change.status, connector_name
            )
    return changed


def apply_pushed(
    db: Database, connector_name: str, reference: str, status: str, note: str | None
) -> bool | None:
    """A status a back office pushed for one of our references (webhook back offices).

    None if no request with that reference was delivered to this back office.
    """
    if status not in service_requests.STATUSES:
        raise service_requests.UnknownStatus(f"unknown status {status!r}")
    with db.transaction() as session:
        request = session.scalar(
            select(ServiceRequest)
            .join(OutboxMessage, OutboxMessage.request_id == ServiceRequest.id)
            .where(
                ServiceRequest.reference == service_requests.normalise_reference(reference),
                OutboxMessage.delivered_to == connector_name,
            )
            .with_for_update(of=ServiceRequest)
        )
        if request is None:
            return None
        if not should_apply(request, StatusChange(request.external_id or "", status, note)):
            return False
        service_requests.change_status(
            session, request, status, f"backoffice:{connector_name}", note
        )
        return True


class StatusSync:
    """Polls the back office now and then; one poller at a time across all processes."""

    def __init__(
        self,
        db: Database,
        connector: Connector,
        *,
        interval: float = 300.0,
        name: str = "status-sync",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.connector = connector
        self.interval = interval
        self.name = name
        self.clock = clock
        self._next: datetime | None = None

    def maybe_run(self) -> int:
        now = self.clock()
        if self._next is not None and now < self._next:
            return 0
        self._next = now + timedelta(seconds=self.interval)
        return self.run_once()

    def open_external_ids(self) -> list[str]:
        with self.db.sessions() as session:
            return list(
                session.scalars(
                    select(ServiceRequest.external_id)
                    .join(OutboxMessage, OutboxMessage.request_id == ServiceRequest.id)
                    .where(
                        OutboxMessage.delivered_to == self.connector.name,
                        ServiceRequest.external_id.is_not(None),
                        ServiceRequest.status.in_(service_requests.OPEN_STATUSES),
                    )
                    .order_by(ServiceRequest.id)
                )
            )

    def release(self) -> None:
        """Give the poller's lease up (at shutdown), so the next process polls at once."""
        lease.release(self.db, LEASE_NAME, self.name, self.clock())

    def run_once(self) -> int:
        now = self.clock()
        if not lease.acquire(self.db, LEASE_NAME, self.name, self.interval * 0.9, now):
            return 0
        ids = self.open_external_ids()
        if not ids:
            return 0
        return apply_changes(self.db, self.connector.name, self.connector.poll_status(ids))
