"""Limits on what a request may carry, counted on the stream before anything reads it.

``BodyLimit`` is the app's outermost middleware (pure ASGI). A declared ``Content-Length``
over the route's limit is refused before a byte is read; otherwise every chunk the server
hands on (chunked uploads included) is counted, and the request is refused with 413 the
moment it passes the limit, before any route parses a form or JSON or checks a signature.
Form bodies are also capped in fields (urlencoded ``&`` separators, multipart parts), since
250 small fields cost the parser more than one big one. Webhooks get a tighter limit:
Telegram's and Twilio's requests are a few kilobytes.

``strict_json`` reads JSON for routes that parse it themselves (Telegram): no NaN or
Infinity, no nesting deeper than any real payload, every error a ``ValueError``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1_000_000
MAX_WEBHOOK_BYTES = 200_000
WEBHOOK_PREFIXES = ("/webhooks/",)
MAX_FORM_FIELDS = 200
# The staff console refuses a declared oversized body with its own page (channels/staff/web.py);
# what it reads is still counted here.
OWN_REFUSAL_PAGE = ("/staff",)
MAX_JSON_DEPTH = 64
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` past the limit; an HTTPException so every layer lets it through."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail, headers={"Connection": "close"})


def limit_for(path: str) -> int:
    return MAX_WEBHOOK_BYTES if path.startswith(WEBHOOK_PREFIXES) else MAX_BODY_BYTES


def _boundary(content_type: bytes) -> bytes | None:
    for part in content_type.split(b";")[1:]:
        name, _, value = part.strip().partition(b"=")
        if name.lower() == b"boundary" and value:
            return b"--" + value.strip(b'"')
    return None


class _FieldCounter:
    """Counts form fields on the stream: ``&`` in urlencoded bodies, boundaries in multipart."""

    def __init__(self, content_type: bytes) -> None:
        kind = content_type.split(b";")[0].strip().lower()
        self.separator: bytes | None = None
        self.count = 0
        if kind == b"application/x-www-form-urlencoded":
            self.separator = b"&"
            self.count = 1
        elif kind == b"multipart/form-data":
            self.separator = _boundary(content_type)
        self._tail = b""

    def feed(self, chunk: bytes) -> int:
        if self.separator is None:
            return 0
        data = self._tail + chunk
        self.count += data.count(self.separator)
        keep = len(self.separator) - 1
        self._tail = data[-keep:] if keep else b""  # a separator split across two chunks
        return self.count


class BodyLimit:
    """The app's outermost middleware: body size and form fields, on the stream."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope.get("path", ""))
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length", b"")
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        own_page = scope.get("path", "").startswith(OWN_REFUSAL_PAGE)
        if declared.isdigit() and int(declared) > limit and not own_page:
            await _refuse(tracked_send, f"the body is larger than {limit} bytes")
            return
        fields = _FieldCounter(headers.get(b"content-type", b""))
        size = 0

        async def counted_receive() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(f"the body is larger than {limit} bytes")
                if fields.feed(chunk) > MAX_FORM_FIELDS:
                    raise BodyTooLarge(f"a form may have at most {MAX_FORM_FIELDS} fields")
            return message

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge as exc:  # read by a middleware outside the routes' handlers
            if not started:
                await _refuse(send, str(exc.detail))


async def _refuse(send: Send, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """422 with what was wrong, never the input itself: it may not even be JSON (NaN)."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check(value: Any, limit: int) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise ValueError(f"JSON nested deeper than {limit} levels")
        if isinstance(item, dict):
            stack += [(k, depth + 1) for k in item]
            stack += [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, depth + 1) for v in item]
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("a number out of range")
        elif isinstance(item, str) and LONE_SURROGATE.search(item):
            raise ValueError("text with a lone UTF-16 surrogate (\\ud800-\\udfff)")


def strict_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON a client sent; any way it is unusable is a ValueError (a 400, never a 500)."""
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise ValueError(f"JSON nested deeper than {max_depth} levels") from exc
    except UnicodeDecodeError as exc:
        raise ValueError("the body is not UTF-8") from exc
    _check(value, max_depth)
    return value
