"""Tables the residents' channels keep beside the conversation: receipts, opt-outs, proven
addresses, SMS overflow.

They live in ``bot`` (not ``channels``) only so that the models module can import them for
migrations without importing upward; nothing in ``bot`` uses them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.storage.base import Base, utcnow
from bot.storage.db import Database


class ChannelReceipt(Base):
    """A transport message id already answered (a Telegram update, a Twilio MessageSid).

    The row is the claim: a redelivered webhook finds it and is not answered twice.
    ``response`` keeps what was answered when the answer is the HTTP response (TwiML).
    Keyed with the sender's keyed hash too, so no sender's id can stand for another's.
    """

    __tablename__ = "channel_receipts"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    sender_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    response: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OptOut(Base):
    """A sender who said STOP: keyed by the keyed hash of their address, never the number."""

    __tablename__ = "opt_outs"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    address_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    keyword: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProvenAddress(Base):
    """An address its channel has proven: a Telegram chat that wrote to the bot, a number
    that texted (``sms``) or called (``voice``). Notices go to these only (channels/outbound).
    Kept as the keyed hash of the address, like opt-outs."""

    __tablename__ = "proven_addresses"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    address_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def prove(db: Database, channel: str, address_key: str) -> None:
    """Record that ``channel`` has proven the address (once: a write only the first time)."""
    with db.sessions() as session:
        if session.get(ProvenAddress, (channel, address_key)) is not None:
            return
    try:
        with db.transaction() as session:
            session.merge(ProvenAddress(channel=channel, address_key=address_key))
    except IntegrityError:  # proven meanwhile by another worker
        pass


def is_proven(session: Session, channel: str, address_key: str) -> bool:
    return session.get(ProvenAddress, (channel, address_key)) is not None


class ChannelSession(Base):
    """What a channel still owes one sender: the rest of a long SMS reply, sent on MORE."""

    __tablename__ = "channel_sessions"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    sender_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    pending: Mapped[list[Any]] = mapped_column(default=list)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CallOutcome(Base):
    """How a phone call ended, from Twilio's status callback (no number: the call's sid)."""

    __tablename__ = "call_outcomes"

    call_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(32))  # completed|busy|no-answer|failed|canceled
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
