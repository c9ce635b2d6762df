"""A fake city back office on loopback, speaking Open311 GeoReport v2 and a signed webhook.

It honours Idempotency-Key as a careful back office does (unless told not to), and
misbehaves on demand: HTTP 500, a reply slower than our timeout, malformed JSON, a token
instead of an id, token look-ups that fail, XML only, or being down altogether. The tests and
the fault-injection run (evaluation/benchmarks/fault_injection.py) both use it.
"""

from __future__ import annotations

import json
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.backoffice import webhook
from evaluation.benchmarks.server import free_port


@dataclass
class Record:
    id: str
    form: dict[str, str]
    status: str = "open"
    notes: str | None = None
    filed_at: datetime = field(default_factory=lambda: datetime.now(UTC))


XML_ROOTS = {"requests": ("service_requests", "request"), "errors": ("errors", "error")}


@dataclass
class FakeBackOffice:
    """An HTTP back office in a thread; ``faults`` is consumed one per POST.

    It follows GeoReport v2: XML always, JSON unless ``formats`` leaves it out (then every
    ``.json`` route is a plain 404 page, as on a server that never heard of it); a discovery
    document at ``/discovery.json|xml`` naming its formats; ``services``, ``requests`` (by id,
    or by service_code and start/end dates) and ``tokens``. ``answer_xml`` answers XML
    whatever was asked; ``tokens`` answers every POST with a token; ``failing_lookups``
    token look-ups answer 500 first; ``honour_keys=False`` files every POST anew.
    """

    port: int = field(default_factory=free_port)
    faults: list[str] = field(default_factory=list)  # "500" | "slow" | "malformed" | "token"
    api_key: str = "city-key"
    webhook_secret: bytes = b"hook-secret"
    slow_seconds: float = 1.5
    post_delay: float = 0.0
    token_lookups_before_ready: int = 1
    formats: tuple[str, ...] = ("json", "xml")
    answer_xml: bool = False
    tokens: bool = False
    failing_lookups: int = 0
    honour_keys: bool = True
    records: dict[str, Record] = field(default_factory=dict)  # by idempotency key
    posts: Counter[str] = field(default_factory=Counter)  # POSTs per idempotency key
    token_gets: Counter[str] = field(default_factory=Counter)
    hits: Counter[str] = field(default_factory=Counter)  # "METHOD path" per call
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
    def _send(
        self,
        h: BaseHTTPRequestHandler,
        status: int,
        body: Any,
        raw: bool = False,
        fmt: str = "json",
        root: str = "requests",
    ) -> None:
        if raw:
            data, kind = body, "application/json"
        elif fmt == "xml" or self.answer_xml:
            data, kind = _xml(body, *XML_ROOTS.get(root, (root, root[:-1]))), "text/xml"
        else:
            data, kind = json.dumps(body).encode(), "application/json"
        try:
            h.send_response(status)
            h.send_header("Content-Type", kind)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timed out or was killed)

    def _not_found_page(self, h: BaseHTTPRequestHandler) -> None:
        data = b"<html><body>Not Found</body></html>"
        h.send_response(404)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _route(self, h: BaseHTTPRequestHandler) -> tuple[str, str] | None:
        """(path without extension, format), or None after answering a plain 404."""
        path = urlsplit(h.path).path
        stem, _, fmt = path.rpartition(".")
        with self.lock:
            self.hits[f"{h.command} {path}"] += 1
        if fmt not in self.formats and path != "/hook":
            self._not_found_page(h)
            return None
        return (stem, fmt) if stem else (path, "json")

    def _record(self, key: str, form: dict[str, str]) -> Record:
        with self.lock:
            self.posts[key] += 1
            slot = key if self.honour_keys and key else f"{key}#{sum(self.posts.values())}"
            if slot not in self.records:
                self.records[slot] = Record(f"CITY-{len(self.records) + 1:05d}", form)
            return self.records[slot]

    def _post(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        route = self._route(h)
        if route is None:
            return
        path, fmt = route
        key = h.headers.get("Idempotency-Key") or ""
        with self.lock:
            fault = self.faults.pop(0) if self.faults else None
        if fault == "500":
            with self.lock:
                self.posts[key] += 1
            error = [{"code": 500, "description": "database on fire"}]
            return self._send(h, 500, error, fmt=fmt, root="errors")
        if path == "/hook":
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
            error = [{"code": 403, "description": "api_key is not valid"}]
            return self._send(h, 403, error, fmt=fmt, root="errors")
        if form.get("service_code") == "unknown_here":
            error = [{"code": 404, "description": "service_code not found"}]
            return self._send(h, 404, error, fmt=fmt, root="errors")
        if self.post_delay:
            time.sleep(self.post_delay)
        record = self._record(key, form)
        if fault == "slow":
            time.sleep(self.slow_seconds)
        if fault == "hang":
            self.hold.wait(30)
        if fault == "malformed":
            return self._send(h, 200, b'[{"service_request_id": "CITY-', raw=True)
        if fault == "token" or self.tokens:
            return self._send(h, 201, [{"token": f"tok-{record.id}"}], fmt=fmt)
        return self._send(h, 201, [{"service_request_id": record.id}], fmt=fmt)

    def _get(self, h: BaseHTTPRequestHandler) -> None:
        route = self._route(h)
        if route is None:
            return
        path, fmt = route
        query = {k: v[0] for k, v in parse_qs(urlsplit(h.path).query).items()}
        if path == "/discovery":
            endpoint = {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": self.url,
                "changeset": "2026-01-01T00:00:00Z",
                "type": "production",
                "formats": [
                    {"json": "application/json", "xml": "text/xml"}[f] for f in self.formats
                ],
            }
            document = {"changeset": "2026-01-01T00:00:00Z", "endpoints": [endpoint]}
            if fmt == "json":
                return self._send(h, 200, document)
            return self._send(h, 200, document, fmt="xml", root="discovery")
        if path == "/services":
            service = {"service_code": "pothole", "service_name": "Pothole", "metadata": "false"}
            return self._send(h, 200, [service], fmt=fmt, root="services")
        if path.startswith("/tokens/"):
            token = path.removeprefix("/tokens/")
            with self.lock:
                self.token_gets[token] += 1
                gets = self.token_gets[token]
            if gets <= self.failing_lookups:
                error = [{"code": 500, "description": "token store unavailable"}]
                return self._send(h, 500, error, fmt=fmt, root="errors")
            ready = gets > self.failing_lookups + self.token_lookups_before_ready
            record = self.by_id().get(token.removeprefix("tok-"))
            if record is None:
                error = [{"code": 404, "description": "token not found"}]
                return self._send(h, 404, error, fmt=fmt, root="errors")
            answer = [{"token": token, "service_request_id": record.id if ready else None}]
            return self._send(h, 200, answer, fmt=fmt)
        if path == "/requests":
            if "service_request_id" in query:
                wanted = query["service_request_id"].split(",")
                found = [self.by_id()[i] for i in wanted if i in self.by_id()]
            else:
                found = [r for r in self.records.values() if _matches(r, query)]
            return self._send(h, 200, [_listed(r) for r in found], fmt=fmt)
        error = [{"code": 404, "description": "no such route"}]
        return self._send(h, 404, error, fmt=fmt, root="errors")


def _matches(record: Record, query: dict[str, str]) -> bool:
    if query.get("service_code") and record.form.get("service_code") != query["service_code"]:
        return False
    start = datetime.fromisoformat(query.get("start_date", "2000-01-01T00:00:00+00:00"))
    end = datetime.fromisoformat(query.get("end_date", "2100-01-01T00:00:00+00:00"))
    return start <= record.filed_at <= end


def _listed(record: Record) -> dict[str, Any]:
    return {
        "service_request_id": record.id,
        "status": record.status,
        "status_notes": record.notes,
        "service_code": record.form.get("service_code"),
        "description": record.form.get("description"),
        "address": record.form.get("address_string"),
        "lat": record.form.get("lat"),
        "long": record.form.get("long"),
        "requested_datetime": record.filed_at.isoformat(timespec="seconds"),
    }


def _xml(body: Any, root: str, item: str) -> bytes:
    """GeoReport's XML: a list as <root><item>..</item></root>; a dict's lists one level down."""
    element = ET.Element(root)
    _fill(element, body, item)
    return ET.tostring(element, xml_declaration=True, encoding="utf-8")


def _fill(element: ET.Element, value: Any, item: str) -> None:
    if isinstance(value, list):
        for entry in value:
            _fill(ET.SubElement(element, item), entry, item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            child = ET.SubElement(element, key)
            _fill(child, inner, key[:-1] if key.endswith("s") else key)
    elif value is not None:
        element.text = str(value)
