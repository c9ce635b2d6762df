"""The outbox dispatcher: delivers filed requests to the back office, once, whatever happens.

A row is claimed (``claimed_by``/``claimed_until``) in a short transaction, delivered with no
transaction open, then settled only if the claim is still ours. PostgreSQL claims with
``FOR UPDATE SKIP LOCKED`` so several dispatchers share the work; SQLite lets one dispatcher
at a time work (the "outbox" lease). A claim expires, so a dispatcher killed mid-delivery
leaves its rows to the next one, which delivers them again under the same idempotency key.
Failures retry with exponential backoff and jitter and go dead after ``max_attempts``;
staff put a dead row back with :func:`bot.backoffice.outbox.retry`.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from bot.backoffice import lease
from bot.backoffice.connector import (
    AwaitingToken,
    Connector,
    DeliveryError,
    PermanentError,
    RetryableError,
)
from bot.backoffice.status_sync import StatusSync
from bot.storage.db import Database
from bot.storage.models import OutboxMessage, ServiceRequest, utcnow

log = logging.getLogger(__name__)
LEASE_NAME = "outbox"
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 10
    base_delay: float = 5.0  # seconds before the 2nd attempt, doubling after each failure
    max_delay: float = 3600.0

    def delay(self, attempts: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the given number of failed attempts, jittered by ±50 %."""
        exponent = min(attempts - 1, 30)
        return min(self.max_delay, self.base_delay * 2**exponent) * (0.5 + rng())


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Dispatcher:
    def __init__(
        self,
        db: Database,
        connector: Connector,
        *,
        policy: RetryPolicy | None = None,
        lease_seconds: float = 60.0,
        batch: int = 20,
        concurrency: int = 1,
        name: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.db = db
        self.connector = connector
        self.policy = policy or RetryPolicy()
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.concurrency = max(1, concurrency)  # rows of one batch delivered side by side
        self.name = name or worker_name()
        self.clock = clock
        self.rng = rng

    # -- one pass ---------------------------------------------------------------------------
    def run_once(self) -> int:
        """Claim the rows that are due and deliver them; returns how many were tried."""
        if self.db.is_sqlite and not lease.acquire(
            self.db, LEASE_NAME, self.name, self.lease_seconds, self.clock()
        ):
            return 0
        claimed = self._claim()
        # A delivery is at most two calls of at most the timeout, and the lease is at least
        # three timeouts (config.build_dispatcher): a row started within the first third of
        # its claim is still ours when it ends; later ones renew their claim first.
        fresh_until = self.clock() + timedelta(seconds=self.lease_seconds / 3)

        def one(claim: tuple[OutboxMessage, ServiceRequest | None]) -> None:
            row, request = claim
            if self.clock() <= fresh_until:
                self._send(row, request)
            else:
                self._deliver(row.id)

        if self.concurrency > 1 and len(claimed) > 1:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="deliver") as pool:
                list(pool.map(one, claimed))
        else:
            for claim in claimed:
                one(claim)
        return len(claimed)

    def _claim(self) -> list[tuple[OutboxMessage, ServiceRequest | None]]:
        now = self.clock()
        with self.db.transaction() as session:
            rows = list(
                session.scalars(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.status == "pending",
                        OutboxMessage.next_attempt_at <= now,
                        or_(
                            OutboxMessage.claimed_until.is_(None),
                            OutboxMessage.claimed_until < now,
                        ),
                    )
                    .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                )
            )
            for row in rows:
                row.claimed_by = self.name
                row.claimed_until = now + timedelta(seconds=self.lease_seconds)
            wanted = [row.request_id for row in rows if row.request_id]
            requests = {
                r.id: r
                for r in session.scalars(
                    select(ServiceRequest).where(ServiceRequest.id.in_(wanted))
                )
            }
            return [(row, requests.get(row.request_id or 0)) for row in rows]

    def _deliver(self, row_id: int) -> None:
        """Renew our claim on the row, then deliver it; nothing if the claim was taken."""
        with self.db.transaction() as session:
            renewed = session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == row_id,
                    OutboxMessage.claimed_by == self.name,
                    OutboxMessage.status == "pending",
                )
                .values(claimed_until=self.clock() + timedelta(seconds=self.lease_seconds))
            ).rowcount
            row = session.get(OutboxMessage, row_id) if renewed else None
            request = (
                session.get(ServiceRequest, row.request_id) if row and row.request_id else None
            )
        if row is None:
            log.info("outbox %s: claim lapsed, left to its new holder", row_id)
            return
        self._send(row, request)

    def _send(self, row: OutboxMessage, request: ServiceRequest | None) -> None:
        external_id: str | None = None
        error: DeliveryError | None = None
        try:
            if row.kind != "file_request" or request is None:
                raise PermanentError(f"nothing to deliver for a {row.kind!r} row")
            external_id = self.connector.deliver(row, request)
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # a connector bug must not kill the loop or lose the row
            log.exception("outbox %s: connector failed unexpectedly", row.id)
            error = DeliveryError(f"unexpected {type(exc).__name__}")
        if error is None:
            self._delivered(row, external_id)
        else:
            self._failed(row.id, error)

    def _delivered(self, row: OutboxMessage, external_id: str | None) -> None:
        with self.db.transaction() as session:
            settled = session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == row.id,
                    OutboxMessage.claimed_by == self.name,
                    OutboxMessage.status == "pending",
                )
                .values(
                    status="delivered",
                    delivered_at=self.clock(),
                    delivered_to=self.connector.name,
                    last_error=None,
                    # attempts counts POSTs; a token's look-ups are counted apart
                    attempts=OutboxMessage.attempts + (0 if row.external_token else 1),
                    claimed_by=None,
                    claimed_until=None,
                )
            ).rowcount
            if not settled:
                log.warning("outbox %s: settled elsewhere while we delivered", row.id)
                return
            if external_id and row.request_id:
                session.execute(
                    update(ServiceRequest)
                    .where(ServiceRequest.id == row.request_id)
                    .values(external_id=external_id[:120])
                )
        log.info("outbox %s delivered to %s", row.id, self.connector.name)

    def _failed(self, row_id: int, error: DeliveryError) -> None:
        now = self.clock()
        with self.db.transaction() as session:
            row = session.scalar(
                select(OutboxMessage)
                .where(OutboxMessage.id == row_id, OutboxMessage.claimed_by == self.name)
                .with_for_update()
            )
            if row is None or row.status != "pending":
                log.warning("outbox %s: settled elsewhere while we delivered", row_id)
                return
            row.claimed_by = row.claimed_until = None
            row.last_error = str(error)[:MAX_ERROR_CHARS]
            if isinstance(error, AwaitingToken):
                # Filed: only the id is missing. Look-ups back off on their own count and
                # never make the row dead, so nothing invites a second POST.
                if not row.external_token:
                    row.attempts += 1
                row.external_token = error.token[:200]
                row.token_lookups += 1
                row.next_attempt_at = now + timedelta(
                    seconds=self.policy.delay(row.token_lookups, self.rng)
                )
                log.warning("outbox %s: %s", row_id, error)
                return
            row.attempts += 1
            if isinstance(error, RetryableError) and error.maybe_filed:
                row.maybe_filed = True
            if isinstance(error, PermanentError) or row.attempts >= self.policy.max_attempts:
                row.status = "dead"
                log.error("outbox %s dead after %d attempts: %s", row_id, row.attempts, error)
                return
            delay = self.policy.delay(row.attempts, self.rng)
            row.next_attempt_at = now + timedelta(seconds=delay)
            log.warning(
                "outbox %s attempt %d failed (%s); next in %.1f s",
                row_id,
                row.attempts,
                error,
                delay,
            )

    # -- the loop ---------------------------------------------------------------------------
    def run_forever(
        self,
        stop: threading.Event,
        *,
        interval: float = 1.0,
        status_sync: StatusSync | None = None,
    ) -> None:
        """Deliver until stopped; a database outage only pauses the loop."""
        log.info("dispatcher %s started (back office: %s)", self.name, self.connector.name)
        try:
            while not stop.is_set():
                worked = 0
                try:
                    worked = self.run_once()
                    if status_sync is not None:
                        status_sync.maybe_run()
                except Exception:
                    log.exception("dispatcher pass failed; trying again shortly")
                if not worked:
                    stop.wait(interval)
        finally:
            self.release(status_sync)

    def release(self, status_sync: StatusSync | None = None) -> None:
        """Give up our leases (dispatcher on SQLite, status poller anywhere) at shutdown, so a
        restarted process delivers and polls at once instead of waiting for them to expire."""
        try:
            if self.db.is_sqlite:
                lease.release(self.db, LEASE_NAME, self.name, self.clock())
            if status_sync is not None:
                status_sync.release()
        except Exception:
            log.warning("could not release the dispatcher's leases; they will expire")
