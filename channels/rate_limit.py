"""Rate limits per sender and per channel, so one resident or one flood cannot starve the rest.

Counters are in memory (the ``limits`` library's moving window): with several app instances
behind a load balancer each instance counts on its own, so the effective limit is the
configured one times the number of instances. That is enough to stop a runaway client or a
loop between two bots; a shared store (``limits`` supports Redis) would make it exact.

Telegram and SMS answer an over-limit sender once per window with a polite message over the
channel (never a bare 429, which the provider would retry); the REST API (channels/api.py)
answers 429 with Retry-After, counting the sender its session or key proves.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

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
    """Two moving windows: one per (channel, sender), one per channel."""

    def __init__(self, per_sender: str = "30/minute", per_channel: str = "6000/minute") -> None:
        self.per_sender: RateLimitItem = parse(per_sender)
        self.per_channel: RateLimitItem = parse(per_channel)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

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
