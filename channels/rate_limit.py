"""Rate limits per sender and per channel, so one resident or one flood cannot starve the rest.

Fixed windows of the ``limits`` library, counted where ``HOTLINE_RATE_LIMIT_STORAGE`` says:
by default in our database on PostgreSQL, so that every instance behind a load balancer
counts the same messages (bot/storage/rate_counters.py), and in memory on SQLite, which one
instance serves; or in any store ``limits`` supports (``redis://...``).

Telegram and SMS answer an over-limit sender once per window with a polite message over the
channel (never a bare 429, which the provider would retry); the REST API (channels/api.py)
answers 429 with Retry-After, counting the sender its session or key proves.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.rate_counters import DatabaseStorage

SLOW_DOWN = (
    "You are sending messages faster than I can answer. "
    "Please wait a minute, then send your message again."
)
_ONCE_A_MINUTE = parse("1/minute")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # seconds until the sender may try again
    tell: bool = False  # the first refusal in a window: worth one polite reply


class RateLimiter:
    """Two windows: one per (channel, sender), one per channel."""

    def __init__(
        self,
        per_sender: str = "30/minute",
        per_channel: str = "15000/minute",
        storage: Storage | None = None,
    ) -> None:
        self.per_sender: RateLimitItem = parse(per_sender)
        self.per_channel: RateLimitItem = parse(per_channel)
        self._limiter = FixedWindowRateLimiter(storage or MemoryStorage())

    def hit(self, channel: str, sender: str) -> Decision:
        """Count one message; say whether it may be answered."""
        who = hashlib.sha256(f"{channel}:{sender}".encode()).hexdigest()[:32]
        for item, keys in (
            (self.per_sender, ("sender", who)),
            (self.per_channel, ("channel", channel)),
        ):
            if not self._limiter.hit(item, *keys):
                stats = self._limiter.get_window_stats(item, *keys)
                retry = max(1, math.ceil(stats.reset_time - time.time()))
                tell = self._limiter.hit(_ONCE_A_MINUTE, "told", who)
                return Decision(False, retry, tell)
        return Decision(True)


def counters(where: str, db_url: str, database: Callable[[], Database]) -> Storage:
    """The storage ``HOTLINE_RATE_LIMIT_STORAGE`` names (see bot/settings.py); ``database``
    gives the runtime's database handle, for the counters kept there."""
    if where == "auto":
        where = "memory" if db_url.startswith("sqlite") else "database"
    if where == "memory":
        return MemoryStorage()
    if where == "database":
        return DatabaseStorage(database)
    return storage_from_string(where)


def from_settings(settings: Settings, database: Callable[[], Database]) -> RateLimiter:
    return RateLimiter(
        settings.rate_limit_sender,
        settings.rate_limit_channel,
        counters(settings.rate_limit_storage, settings.db_url, database),
    )
