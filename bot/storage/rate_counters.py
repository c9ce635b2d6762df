"""Rate-limit counters in our own database, so that every instance counts the same messages.

The ``limits`` library counts in memory by default: behind a load balancer N instances would
allow N times the limit. Redis or memcached are what ``limits`` ships for sharing; a city that
runs on PostgreSQL already has a shared store, so this is a ``limits`` storage over it (fixed
windows: one upserted row per key and window, expired rows swept now and then).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from limits.storage import Storage
from sqlalchemy import Float, Integer, String, case, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.base import Base
from bot.storage.db import Database

SWEEP_SHARE = 0.01  # of increments that also delete expired rows
SWEEP_GRACE_SECONDS = 60.0


class RateCounter(Base):
    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)  # epoch seconds, as limits


class DatabaseStorage(Storage):
    """A ``limits`` storage on the hotline's database (SQLite or PostgreSQL).

    ``database`` gives the runtime's own handle when a message is counted (the app builds its
    runtime after it starts), so the counters share its connection pool.
    """

    def __init__(self, database: Callable[[], Database]) -> None:
        super().__init__()
        self._database = database

    @property
    def db(self) -> Database:
        return self._database()

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        table = RateCounter.__table__
        insert = (sqlite_insert if self.db.is_sqlite else postgresql_insert)(table)
        stale = table.c.expires_at <= now  # the existing row's window is over
        statement = (
            insert.values(key=key, count=amount, expires_at=now + expiry)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "count": case((stale, amount), else_=table.c.count + amount),
                    "expires_at": case((stale, now + expiry), else_=table.c.expires_at),
                },
            )
            .returning(table.c.count)
        )
        with self.db.transaction() as session:
            count = int(session.execute(statement).scalar_one())
            if random.random() < SWEEP_SHARE:
                session.execute(
                    delete(RateCounter).where(RateCounter.expires_at < now - SWEEP_GRACE_SECONDS)
                )
        return count

    def get(self, key: str) -> int:
        with self.db.sessions() as session:
            count = session.scalar(
                select(RateCounter.count).where(
                    RateCounter.key == key, RateCounter.expires_at > time.time()
                )
            )
        return int(count or 0)

    def get_expiry(self, key: str) -> float:
        with self.db.sessions() as session:
            expires = session.scalar(select(RateCounter.expires_at).where(RateCounter.key == key))
        return float(expires) if expires is not None else time.time()

    def check(self) -> bool:
        try:
            with self.db.sessions() as session:
                session.execute(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.db.transaction() as session:
            return session.execute(delete(RateCounter)).rowcount

    def clear(self, key: str) -> None:
        with self.db.transaction() as session:
            session.execute(delete(RateCounter).where(RateCounter.key == key))
