"""Rendering for the console: templates, flash messages, and the guard around /staff paths."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import plain_words
from bot.staff.roles import Permission
from channels.staff.auth import csrf_token

HERE = Path(__file__).parent
STAFF_PATHS = ("/staff", "/api/v1/staff")
MAX_BODY_BYTES = 1_000_000  # an import file or form; the app refuses larger bodies anyway
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]

templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(csrf_token=csrf_token, Permission=Permission)


class NotFound(Exception):
    """A console page about something that does not exist: the 404 page says what."""


def when(value: datetime | None, zone: str = "UTC") -> str:
    """A moment in the city's time, with its zone's abbreviation ("2026-12-03 10:00 PST")."""
    if value is None:
        return ""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


@pass_context
def _city_when(context: Context, value: datetime | None) -> str:
    request = context.get("request")
    settings = getattr(getattr(request, "app", None), "state", None)
    zone = getattr(getattr(settings, "settings", None), "timezone", "UTC")
    return when(value, zone)


def _age(value: datetime | None) -> str:
    """'3 h', '2 d': how long something has been waiting."""
    if value is None:
        return ""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    minutes = max(0, int((datetime.now(UTC) - value).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} d"


templates.env.filters.update(
    when=_city_when,
    age=_age,
    request_status=plain_words.request_status,
    handoff_status=plain_words.handoff_status,
    notice_status=plain_words.notice_status,
    intent=plain_words.intent,
    contact=plain_words.contact,
    channel=plain_words.channel,
)


def flash(request: Request, text: str, kind: str = "success") -> None:
    """A message for the next page (post/redirect/get)."""
    request.session["flash"] = [*request.session.get("flash", []), [kind, text]]


def page(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    staff = getattr(request.state, "staff", None)
    messages = request.session.pop("flash", []) if "session" in request.scope else []
    return templates.TemplateResponse(
        request,
        name,
        {"staff": staff, "messages": messages, **(context or {})},
        status_code=status_code,
    )


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


class StaffPathGuard:
    """Around /staff and /api/v1/staff: security headers on every answer, and a body limit
    that holds for chunked uploads too (a declared size over it is refused before reading)."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(STAFF_PATHS):
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *[(n, v) for n, v in SECURITY_HEADERS if n not in present],
                ]
            await send(message)

        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_body:
            await self._too_large(scope, send_secured)
            return
        if length or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send_secured)
            return
        chunks, size = [], 0  # no declared length: read it here, within the limit
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_body:
                await self._too_large(scope, send_secured)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send_secured)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        limit = f"{self.max_body / 1_000_000:g} MB"
        if scope["path"].startswith("/api/"):
            body = json.dumps({"detail": f"the body is larger than {limit}"}).encode()
            content_type = b"application/json"
        else:
            body = templates.get_template("too_large.html").render(limit=limit).encode()
            content_type = b"text/html; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
