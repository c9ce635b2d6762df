"""A named lease row: at most one holder at a time, taken over only once it has expired.

SQLite has no SKIP LOCKED, so there one dispatcher at a time holds the "outbox" lease; on
every database one poller holds "status_sync". The UPDATE is a compare-and-set, atomic on
both databases.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from bot.backoffice.models import DispatcherLease
from bot.storage.db import Database


def acquire(db: Database, name: str, holder: str, seconds: float, now: datetime) -> bool:
    """Take or renew the lease; False while someone else holds an unexpired one."""
    until = now + timedelta(seconds=seconds)
    with db.transaction() as session:
        taken = session.execute(
            update(DispatcherLease)
            .where(
                DispatcherLease.name == name,
                or_(DispatcherLease.holder == holder, DispatcherLease.expires_at < now),
            )
            .values(holder=holder, expires_at=until)
        ).rowcount
        if taken:
            return True
        if session.get(DispatcherLease, name) is not None:
            return False
    try:
        with db.transaction() as session:
            session.add(DispatcherLease(name=name, holder=holder, expires_at=until))
    except IntegrityError:  # another process created it first
        return False
    return True


def release(db: Database, name: str, holder: str, now: datetime) -> None:
    with db.transaction() as session:
        session.execute(
            update(DispatcherLease)
            .where(DispatcherLease.name == name, DispatcherLease.holder == holder)
            .values(expires_at=now)
        )
