"""Integration keys: a city's own trusted system (its app, its CRM) speaking for residents.

``POST /api/v1/messages`` speaks for the web channel only, with the sender taken from the
server's session cookie. A system the city runs itself may speak for the residents of other
channels, naming each sender, with a key an administrator creates in the staff console or
the staff API. A key names the channels it may speak for; it never covers ``web`` (a web
resident is whoever holds the session cookie, and no one else). Only the key's SHA-256 hash
is kept: the key is shown once, when it is made.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.storage.base import Base, utcnow

KEY_PREFIX = "hik_"
WEB_CHANNEL = "web"
CHANNEL_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
MAX_CHANNELS = 20
LAST_USED_GRANULARITY = timedelta(minutes=1)


class IntegrationKeyError(ValueError):
    """The key cannot be made that way (the message is for the administrator)."""


class IntegrationKey(Base):
    """A key for one integration; ``channels`` is the list it may speak for."""

    __tablename__ = "integration_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists to tell keys apart
    channels: Mapped[list[Any]] = mapped_column(default=list)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_channels(channels: str | Iterable[str]) -> list[str]:
    """A scope from a list, or from text with channels separated by commas or spaces."""
    items = channels.replace(",", " ").split() if isinstance(channels, str) else list(channels)
    scope = sorted({item.strip().lower() for item in items if item.strip()})
    if not scope:
        raise IntegrationKeyError("a key needs at least one channel to speak for")
    if len(scope) > MAX_CHANNELS:
        raise IntegrationKeyError(f"a key may speak for at most {MAX_CHANNELS} channels")
    for channel in scope:
        if not CHANNEL_NAME.match(channel):
            raise IntegrationKeyError(
                f"{channel[:40]!r} is not a channel name (1 to 32 of a-z, 0-9 and _)"
            )
    if WEB_CHANNEL in scope:
        raise IntegrationKeyError(
            "no key speaks for the web channel: a web resident is the holder of the session cookie"
        )
    return scope


def create_key(
    session: Session, name: str, channels: str | Iterable[str], created_by: str
) -> tuple[IntegrationKey, str]:
    """A new key; its clear text is returned this once and never stored."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 80:
        raise IntegrationKeyError("a key needs a name of 1 to 80 characters (who uses it)")
    scope = parse_channels(channels)
    taken = session.scalar(
        select(IntegrationKey).where(
            IntegrationKey.name == name, IntegrationKey.revoked_at.is_(None)
        )
    )
    if taken is not None:
        raise IntegrationKeyError(f"there is already a live key called {name!r}")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = IntegrationKey(
        name=name,
        key_hash=_hash(secret),
        prefix=secret[:10],
        channels=scope,
        created_by=created_by[:120],
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row, secret


def live_keys(session: Session) -> list[IntegrationKey]:
    return list(
        session.scalars(
            select(IntegrationKey)
            .where(IntegrationKey.revoked_at.is_(None))
            .order_by(IntegrationKey.created_at.desc(), IntegrationKey.id.desc())
        )
    )


def revoke_key(session: Session, key_id: int) -> IntegrationKey | None:
    """Revoke a live key at once; the row stays for the record."""
    row = session.get(IntegrationKey, key_id)
    if row is None or row.revoked_at is not None:
        return None
    row.revoked_at = utcnow()
    session.flush()
    return row


def authenticate(session: Session, key: str) -> IntegrationKey | None:
    """The live key with this clear text, else None (its last use is noted, to the minute)."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    row = session.scalar(select(IntegrationKey).where(IntegrationKey.key_hash == _hash(key)))
    if row is None or row.revoked_at is not None:
        return None
    now = datetime.now(UTC)
    last = row.last_used_at
    if last is None or now - (last if last.tzinfo else last.replace(tzinfo=UTC)) > (
        LAST_USED_GRANULARITY
    ):
        row.last_used_at = now
    return row
