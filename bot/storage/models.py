"""Tables of the assistant core: conversations, transcripts, requests, outbox, handoffs, notices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot import replies
from bot.storage.base import Base, utcnow


class Conversation(Base):
    """One tracker per (channel, sender); the sender is kept only as a keyed hash."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "sender_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    sender_key: Mapped[str] = mapped_column(String(64))
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prefs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    language: Mapped[str] = mapped_column(String(16), default="en")
    status: Mapped[str] = mapped_column(String(20), default="bot")  # bot | handoff
    alert: Mapped[str | None] = mapped_column(String(16))  # emergency | crisis, from triage
    alert_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_active_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Turn(Base):
    """The transcript: what the resident said, what the bot or a staff member answered."""

    __tablename__ = "turns"
    __table_args__ = (Index("ix_turns_conversation", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    direction: Mapped[str] = mapped_column(String(8))  # in | bot | staff
    text: Mapped[str] = mapped_column(Text, default="")
    intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str | None] = mapped_column(String(32))  # answered | unanswered | filed | ...
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProcessedMessage(Base):
    """A message id already handled and the reply it got, so a retried webhook repeats it.

    Keyed by channel, sender and message id: one sender's ids never reach another's replies
    (Telegram's are sequential, a REST client picks its own).
    """

    __tablename__ = "processed_messages"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    sender_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    reply: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ServiceRequest(Base):
    __tablename__ = "service_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(32), unique=True)
    service_code: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20), default="submitted", index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str | None] = mapped_column(String(300))
    street: Mapped[str | None] = mapped_column(String(120))
    district: Mapped[str | None] = mapped_column(String(120), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    contact_preference: Mapped[str] = mapped_column(String(20), default="channel")
    contact_phone_hash: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    reply_address: Mapped[str | None] = mapped_column(String(200))  # where notices go
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    language: Mapped[str] = mapped_column(String(16), default="en")
    external_id: Mapped[str | None] = mapped_column(String(120))
    status_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RequestEvent(Base):
    """Every status change of a request, by whom, with an optional note."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OutboxMessage(Base):
    """Work for the back office, written in the same transaction as the request it carries."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("service_requests.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|delivered|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Claims (bot/backoffice/dispatcher.py): who delivers the row now, until when; a claim
    # past its time is free again, so a dispatcher killed mid-delivery loses nothing.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_to: Mapped[str | None] = mapped_column(String(32))  # the connector's name
    external_token: Mapped[str | None] = mapped_column(String(200))  # Open311 token to resolve
    # Filed, as far as the back office is concerned, once a token came back: its look-ups
    # then back off on their own count and never POST again.
    token_lookups: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # An attempt's answer was lost after it was sent: the back office may hold the request, so
    # the next attempt (a staff Retry too) asks it first.
    maybe_filed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Handoff(Base):
    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="waiting")  # waiting|taken|closed
    reason: Mapped[str] = mapped_column(String(200), default="")
    alert: Mapped[str | None] = mapped_column(String(16))  # emergency | crisis: first in line
    taken_by: Mapped[str | None] = mapped_column(String(120))
    reply_address: Mapped[str | None] = mapped_column(String(200))  # where staff replies go
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Notice(Base):
    """A message to a resident outside a turn (a status change, a staff reply), and its fate.

    status: pending, sent, delivered or failed.
    """

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("service_requests.id"))
    channel: Mapped[str] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    # The first name of the member of staff who wrote it; None for automatic notices.
    author: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(
        String(16), default="pending"
    )  # pending|sent|delivered|failed
    error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def signed_text(self) -> str:
        """What the resident reads: a staff reply opens with its writer's name."""
        return replies.staff_signed(self.author, self.text) if self.author else self.text


class HealthProbe(Base):
    """One row per instance that /readyz writes, to prove the database takes writes."""

    __tablename__ = "health_probes"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    written_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
