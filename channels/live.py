"""Live updates as server-sent events: what changed, pushed to an open page without reload.

A stream looks at the database every ``poll`` seconds (so a change made by another app
instance reaches it too) and sends what is new; a change made in this process (a staff reply,
a resident's message) wakes every stream at once (``Streams.wake``), so it need not wait.
Every stream ends on its own after ``lifetime`` seconds (the browser's EventSource
reconnects, and the route checks who it is again); at server shutdown (uvicorn's signal,
through sse-starlette, or ``Streams.close``); and when the client goes. One client holds at
most ``per_client`` streams at once.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from fastapi import HTTPException
from sse_starlette import EventSourceResponse, ServerSentEvent

Cursor = TypeVar("Cursor")
POLL_SECONDS = 1.0
LIFETIME_SECONDS = 300.0
PER_CLIENT = 4
RETRY_MS = 2000  # how long the browser waits before it reconnects
PING_SECONDS = 15
SEND_TIMEOUT_SECONDS = 10


@dataclass
class Streams:
    """The open streams of one app, counted per client, and the switch that ends them all."""

    per_client: int = PER_CLIENT
    poll: float = POLL_SECONDS
    lifetime: float = LIFETIME_SECONDS

    def __post_init__(self) -> None:
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.closing = threading.Event()
        self._changed: asyncio.Event | None = None  # replaced on each wake: a broadcast
        self._loop: asyncio.AbstractEventLoop | None = None

    @contextmanager
    def slot(self, client: str) -> Iterator[None]:
        """Hold one of the client's streams for as long as the block lasts."""
        with self._lock:
            self._open[client] += 1
        try:
            yield
        finally:
            with self._lock:
                self._open[client] -= 1
                if self._open[client] <= 0:
                    del self._open[client]

    def check(self, client: str) -> None:
        """429 when the client already holds its share of streams."""
        with self._lock:
            if self._open[client] >= self.per_client:
                raise HTTPException(
                    429,
                    f"at most {self.per_client} live streams at once: close a tab",
                    headers={"Retry-After": "30"},
                )

    def open_for(self, client: str) -> int:
        with self._lock:
            return self._open[client]

    def close(self) -> None:
        """End every stream (the server is stopping)."""
        self.closing.set()
        self.wake()

    async def pause(self) -> None:
        """Until the next poll, or sooner when something changes."""
        if self._changed is None:
            self._changed, self._loop = asyncio.Event(), asyncio.get_running_loop()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), self.poll)

    def wake(self) -> None:
        """Something changed: every stream looks now. Safe from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with suppress(RuntimeError):  # the loop stopped meanwhile: no stream to wake
            loop.call_soon_threadsafe(self._broadcast)

    def _broadcast(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()


def streams(app: Any) -> Streams:
    found = getattr(app.state, "live_streams", None)
    if found is None:
        found = app.state.live_streams = Streams()
    return found


def respond(
    app: Any,
    client: str,
    cursor: Cursor,
    changes: Callable[[Cursor], tuple[list[ServerSentEvent], Cursor]],
) -> EventSourceResponse:
    """A stream that sends ``changes(cursor)`` (run in a thread: it reads the database)
    until it ends; the client's slot is taken now, so a 429 comes before any event."""
    registry = streams(app)
    registry.check(client)
    stopping = anyio.Event()  # set by sse-starlette when the server is told to stop

    async def events() -> AsyncIterator[ServerSentEvent]:
        nonlocal cursor
        with registry.slot(client):
            if registry.open_for(client) > registry.per_client:  # raced past check()
                return
            yield ServerSentEvent(comment="open", retry=RETRY_MS)
            ends = time.monotonic() + registry.lifetime
            while (
                not registry.closing.is_set() and not stopping.is_set() and time.monotonic() < ends
            ):
                found, cursor = await asyncio.to_thread(changes, cursor)
                for event in found:
                    yield event
                await registry.pause()

    return EventSourceResponse(
        events(),
        ping=PING_SECONDS,
        send_timeout=SEND_TIMEOUT_SECONDS,
        # Ended by its own loop (within a poll), the stream closes properly: the browser sees
        # an end, not a broken connection.
        shutdown_event=stopping,
        shutdown_grace_period=POLL_SECONDS + 1,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def last_event_id(header: str | None, fallback: int) -> int:
    """The id the browser saw last (EventSource sends it on reconnect), else the page's."""
    if header and header.isdigit() and len(header) < 19:
        return int(header)
    return fallback
