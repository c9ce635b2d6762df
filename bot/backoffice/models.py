"""Tables of the back office: the SQLite dispatcher lease and Open311 POST idempotency."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.base import Base, utcnow


class DispatcherLease(Base):
    """Who may dispatch on SQLite (no SKIP LOCKED there): one holder until the lease expires."""

    __tablename__ = "dispatcher_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Open311Post(Base):
    """An Open311 POST already filed under a client's Idempotency-Key, so a retry files nothing."""

    __tablename__ = "open311_posts"

    client: Mapped[str] = mapped_column(String(64), primary_key=True)  # hash of the api_key
    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"))
    # What was POSTed (a hash): the same key with another body is refused, not answered
    # with the first request.
    body_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
