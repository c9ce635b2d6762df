"""Targets for the conversation runner beyond this process: a running server over REST.

Over REST the server's clock cannot be moved (a conversation with ``advance:`` is skipped,
with the reason), and a filed request shows only its public fields
(GET /api/v1/requests/{reference}), so ``filed`` checks on other fields are reported as
unchecked rather than passed.
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import tempfile
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from bot.contract import Reply
from evaluation.qa.conversations import MovableClock, Target, Unsupported

PUBLIC_FIELDS = frozenset(
    {"reference", "service_code", "service_name", "status", "district", "created_at", "updated_at"}
)


class RestTarget:
    """A running server: POST /api/v1/messages, GET /api/v1/requests/{reference}.

    With an integration key (made by an admin in the staff console, scoped to the channels
    the conversations use, e.g. ``test voice``) each conversation speaks as its own sender on
    its own channel. Without one the server speaks for web sessions only: each conversation
    then keeps its own session cookie, and plays on the web channel whatever it names.
    """

    filed_fields = PUBLIC_FIELDS

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        client: httpx.Client | None = None,
    ):
        self.name = url
        self.client = client or httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
        self.api_key = api_key
        self._cookies: dict[str, dict[str, str]] = {}  # sender -> its web session's cookies
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> Reply:
        if self.api_key:
            headers = {"Authorization": f"Bearer {self.api_key}"}
        else:  # an explicit Cookie header, so that conversations never share the client's jar
            with self._lock:
                cookies = self._cookies.setdefault(str(message.get("sender")), {})
                headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()) or "-"}
        response = self.client.post("/api/v1/messages", json=message, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
        if not self.api_key:
            with self._lock:
                cookies.update(dict(response.cookies))
        return Reply.model_validate(response.json())

    def filed(self, reference: str) -> dict[str, Any] | None:
        response = self.client.get(f"/api/v1/requests/{reference}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def advance(self, by: timedelta) -> None:
        raise Unsupported(
            "a running server's clock cannot be moved; run this conversation in process"
        )


def scratch_copy(data_dir: Path) -> Path:
    """A throwaway copy of a data dir (removed at exit), so test conversations file nothing real.

    The trained model and index come along (no retraining); the SQLite database is copied
    with SQLite's backup API, safe while a server is writing to it.
    """
    scratch = Path(tempfile.mkdtemp(prefix="hotline-test-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    if not data_dir.exists():
        return scratch
    shutil.copytree(data_dir, scratch, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.db*"))
    database = data_dir / "hotline.db"
    if database.exists():
        with sqlite3.connect(database) as source, sqlite3.connect(scratch / "hotline.db") as copy:
            source.backup(copy)
    return scratch


def in_process_target(settings: Any, *, in_place: bool = False) -> Target:
    """The assistant built from settings, on a scratch copy of its data unless in_place."""
    from bot.runtime import build_runtime
    from evaluation.qa.conversations import InProcessTarget

    if not in_place:
        fresh = {"data_dir": scratch_copy(settings.data_dir)}
        if settings.database_url:
            fresh["database_url"] = None
        settings = settings.model_copy(update=fresh)
        settings.__dict__.pop("db_url", None)  # a cached_property of the old data dir
    clock = MovableClock()
    return InProcessTarget(build_runtime(settings, clock=clock), clock)


def channel_target(channel: str, url: str | None, settings: Any) -> Target:
    """A channel's own webhook (evaluation.qa.channel_targets)."""
    try:
        from evaluation.qa import channel_targets
    except ImportError as exc:
        raise Unsupported(f"channel targets are not available: {exc}") from exc
    return channel_targets.make_target(channel, url=url, settings=settings)
