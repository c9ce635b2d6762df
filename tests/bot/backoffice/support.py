"""Test parts for the back office: fresh databases and a fake back office on loopback.

The fake speaks enough Open311 GeoReport v2 (POST requests.json, tokens/{t}.json, GET
requests.json) and a signed webhook, honours Idempotency-Key as a careful back office does,
and misbehaves on demand: HTTP 500, a reply slower than our timeout, malformed JSON, a
token instead of an id, or being down altogether.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot import service_requests
from bot.backoffice import webhook
from bot.storage.db import Database
from bot.storage.models import ServiceRequest
from evaluation.server import free_port

ROOT = Path(__file__).resolve().parents[3]
HOTLINE = Path(sys.executable).with_name("hotline")  # the console script, as operators run it


def file_requests(db: Database, count: int, service_code: str = "pothole") -> list[int]:
    """File requests as the assistant does (request and outbox row in one transaction)."""
    ids = []
    for i in range(count):
        with db.transaction() as session:
            request = service_requests.file_request(
                session,
                ServiceRequest(
                    service_code=service_code,
                    description=f"hole number {i} in the road",
                    address=f"{i + 1} Elm Street",
                    street="Elm Street",
                    district="Old Town",
                    lat=47.61,
                    lon=-122.33,
                    fields={"size": "large"},
                    channel="web",
                    reply_address="resident-1",
                ),
                "test",
            )
            ids.append(request.id)
    return ids


@dataclass
class Record:
    id: str
    form: dict[str, str]
    status: str = "open"
    notes: str | None = None


@dataclass
class FakeBackOffice:
    """An HTTP back office in a thread; ``faults`` is consumed one per POST."""

    port: int = field(default_factory=free_port)
    faults: list[str] = field(default_factory=list)  # "500" | "slow" | "malformed" | "token"
    api_key: str = "city-key"
    webhook_secret: bytes = b"hook-secret"
    slow_seconds: float = 1.5
    post_delay: float = 0.0
    token_lookups_before_ready: int = 1
    records: dict[str, Record] = field(default_factory=dict)  # by idempotency key
    posts: Counter[str] = field(default_factory=Counter)  # POSTs per idempotency key
    token_gets: Counter[str] = field(default_factory=Counter)
    hold: threading.Event = field(default_factory=threading.Event)  # "hang" fault waits here
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeBackOffice:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # as real servers do; else 40 ms stalls

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._post(self)

            def do_GET(self) -> None:
                fake._get(self)

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def by_id(self) -> dict[str, Record]:
        return {r.id: r for r in self.records.values()}

    # -- handlers -------------------------------------------------------------------------
    def _send(self, h: BaseHTTPRequestHandler, status: int, body: Any, raw: bool = False) -> None:
        data = body if raw else json.dumps(body).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timed out or was killed)

    def _record(self, key: str, form: dict[str, str]) -> Record:
        with self.lock:
            self.posts[key] += 1
            if key not in self.records:
                self.records[key] = Record(f"CITY-{len(self.records) + 1:05d}", form)
            return self.records[key]

    def _post(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        key = h.headers.get("Idempotency-Key") or ""
        with self.lock:
            fault = self.faults.pop(0) if self.faults else None
        if fault == "500":
            with self.lock:
                self.posts[key] += 1
            return self._send(h, 500, [{"code": 500, "description": "database on fire"}])
        if h.path == "/hook":
            good = webhook.verify(
                self.webhook_secret,
                h.headers.get(webhook.TIMESTAMP_HEADER),
                h.headers.get(webhook.SIGNATURE_HEADER),
                body,
            )
            if not good:
                return self._send(h, 401, {"error": "bad signature"})
            record = self._record(key, json.loads(body))
            return self._send(h, 201, {"id": record.id})
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("api_key") != self.api_key:
            return self._send(h, 403, [{"code": 403, "description": "api_key is not valid"}])
        if form.get("service_code") == "unknown_here":
            return self._send(h, 404, [{"code": 404, "description": "service_code not found"}])
        if self.post_delay:
            time.sleep(self.post_delay)
        record = self._record(key, form)
        if fault == "slow":
            time.sleep(self.slow_seconds)
        if fault == "hang":
            self.hold.wait(30)
        if fault == "malformed":
            return self._send(h, 200, b'[{"service_request_id": "CITY-', raw=True)
        if fault == "token":
            return self._send(h, 200, [{"token": f"tok-{record.id}"}])
        return self._send(h, 201, [{"service_request_id": record.id}])

    def _get(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path.startswith("/tokens/"):
            token = parts.path.removeprefix("/tokens/").removesuffix(".json")
            with self.lock:
                self.token_gets[token] += 1
                ready = self.token_gets[token] > self.token_lookups_before_ready
            record = self.by_id().get(token.removeprefix("tok-"))
            if record is None:
                return self._send(h, 404, [{"code": 404, "description": "token not found"}])
            return self._send(
                h, 200, [{"token": token, "service_request_id": record.id if ready else None}]
            )
        if parts.path == "/requests.json":
            wanted = query.get("service_request_id", "").split(",")
            found = [self.by_id()[i] for i in wanted if i in self.by_id()]
            return self._send(
                h,
                200,
                [
                    {"service_request_id": r.id, "status": r.status, "status_notes": r.notes}
                    for r in found
                ],
            )
        return self._send(h, 404, [{"code": 404, "description": "no such route"}])


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def start_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A child process of ours (a dispatcher or a server), its output kept for failures."""
    full = {**os.environ, "HF_HUB_OFFLINE": "1", **env}
    with log.open("ab") as out:
        return subprocess.Popen(args, cwd=ROOT, env=full, stdout=out, stderr=subprocess.STDOUT)


def dispatcher_process(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return start_process([str(HOTLINE), "dispatch"], env, log)
