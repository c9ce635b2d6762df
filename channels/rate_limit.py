"""Rate limits per sender and per channel, so one resident or one flood cannot starve the rest.

Counters are in memory (the ``limits`` library's moving window): with several app instances
behind a load balancer each instance counts on its own, so the effective limit is the
configured one times the number of instances. That is enough to stop a runaway client or a
loop between two bots; a shared store (``limits`` supports Redis) would make it exact.

Telegram and SMS answer an over-limit sender once per window with a polite message over the
channel (never a bare 429, which the provider would retry); the REST API answers 429 with
Retry-After.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SLOW_DOWN = (
    "You are sending messages faster than I can answer. "
    "Please wait a minute, then send your message again."
)
_ONCE_A_MINUTE = parse("1/minute")
MESSAGES_PATH = "/api/v1/messages"
MAX_PEEK_BYTES = 1_000_000


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


class RestRateLimit:
    """ASGI middleware: POST /api/v1/messages over the limit gets 429 with Retry-After.

    It peeks at the JSON body for channel and sender and hands the body on unchanged; a body
    it cannot read is left to the route, which refuses it with a clear 422.
    """

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != MESSAGES_PATH:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more and size <= MAX_PEEK_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay(chunks, message, receive), send)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
        channel, sender = _who(b"".join(chunks) if not more else b"")
        if channel and sender:
            decision = self.limiter.hit(channel, sender)
            if not decision.allowed:
                await _too_many(send, decision.retry_after)
                return
        await self.app(scope, _replay(chunks, None, receive, more), send)


def _who(body: bytes) -> tuple[str | None, str | None]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    channel, sender = data.get("channel"), data.get("sender")
    if isinstance(channel, str) and isinstance(sender, str):
        return channel[:32], sender[:200]
    return None, None


def _replay(
    chunks: list[bytes], pending: Message | None, receive: Receive, more: bool = False
) -> Receive:
    """A receive() that gives back the body already read, then carries on with the socket."""
    queue: list[Message] = [
        {"type": "http.request", "body": b"".join(chunks), "more_body": more or pending is not None}
    ]
    if pending is not None:
        queue.append(pending)

    async def replay() -> Message:
        if queue:
            return queue.pop(0)
        return await receive()

    return replay


async def _too_many(send: Send, retry_after: int) -> None:
    body = json.dumps({"detail": SLOW_DOWN}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
