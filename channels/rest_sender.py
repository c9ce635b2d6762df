"""Who a REST message speaks for: the web session the server issued, or an integration key.

Without a key, ``POST /api/v1/messages`` and ``POST /api/v1/notices`` speak for the web
channel only, and the sender is the server's own session cookie (random, signed, HttpOnly):
whatever ``channel`` and ``sender`` the body names is ignored, so nobody can speak as a
Telegram, SMS or phone resident, or as another browser. A client that keeps cookies (a
browser, ``curl -b jar -c jar``, httpx) holds one conversation; one that does not starts a
new one each time. The cookie holds a random session id and its keyed signature; the sender
the assistant sees is derived from it with the installation key, so the database never
holds a cookie. Cookie routes want ``Content-Type: application/json``: a cross-site page
cannot send that without a CORS preflight, which this server never grants, so another
site cannot post in a resident's name.

With ``Authorization: Bearer hik_...`` (bot/integrations.py) a city's trusted system speaks
for the senders it names, on the channels its key was made for, and on no other.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from fastapi import HTTPException, Request, Response

from bot import integrations
from bot.runtime import Runtime
from bot.settings import Settings

COOKIE = "hotline_chat"
COOKIE_MAX_AGE = 180 * 24 * 3600  # notices about a report may come weeks later
SENDER_HEADER = "X-Hotline-Sender"
WEB_CHANNEL = integrations.WEB_CHANNEL


@dataclass(frozen=True)
class Speaker:
    channel: str
    sender: str


def _signature(runtime: Runtime, session_id: str) -> str:
    return runtime.hasher(f"web-session-cookie:{session_id}")[:32]


def _session_id(runtime: Runtime, cookie: str | None) -> str | None:
    """The session id in a cookie we signed, else None (absent, forged or malformed)."""
    if not cookie or len(cookie) > 200:
        return None
    session_id, _, signature = cookie.partition(".")
    if len(session_id) < 20 or not signature:
        return None
    if not hmac.compare_digest(signature.encode(), _signature(runtime, session_id).encode()):
        return None
    return session_id


def _secure(request: Request, settings: Settings) -> bool:
    public = settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def web_sender(request: Request, response: Response, runtime: Runtime) -> str:
    """The web session's sender; a new session (and cookie) when the request has none."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise HTTPException(415, "send the body as JSON (Content-Type: application/json)")
    session_id = _session_id(runtime, request.cookies.get(COOKIE))
    if session_id is None:
        session_id = secrets.token_urlsafe(24)
    secure = _secure(request, runtime.settings)
    response.set_cookie(
        COOKIE,
        f"{session_id}.{_signature(runtime, session_id)}",
        max_age=COOKIE_MAX_AGE,
        path="/api/v1/",
        httponly=True,
        secure=secure,
        # Over https the chat also works inside the widget's frame on the city's own sites.
        samesite="none" if secure else "lax",
    )
    sender = _sender(runtime, session_id)
    response.headers[SENDER_HEADER] = sender
    return sender


def _sender(runtime: Runtime, session_id: str) -> str:
    return "web-" + runtime.hasher(f"web-session:{session_id}")[:40]


def cookie_sender(request: Request, runtime: Runtime) -> str:
    """The sender of a web session cookie we signed, for a GET that only reads (the live
    stream): it issues no cookie, and a cross-site request is refused (403) so another site
    cannot even hold a resident's stream open; no cookie, no stream (401)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise HTTPException(403, "only the helpline's own pages may open this stream")
    session_id = _session_id(runtime, request.cookies.get(COOKIE))
    if session_id is None:
        raise HTTPException(401, "no web chat session: send a message first")
    return _sender(runtime, session_id)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "give an integration key as Authorization: Bearer hik_...")
    return token.strip()


def _key_channels(runtime: Runtime, token: str) -> list[str]:
    """The channels of the live key (its last use noted), or 401."""
    with runtime.db.transaction() as session:
        key = integrations.authenticate(session, token)
        if key is None:
            raise HTTPException(
                401,
                "not a live integration key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return list(key.channels or [])


def speaker(
    request: Request,
    response: Response,
    runtime: Runtime,
    channel: str | None,
    sender: str | None,
) -> Speaker:
    """Who this request speaks for (see the module's docstring)."""
    token = _bearer(request)
    if token is None:
        return Speaker(WEB_CHANNEL, web_sender(request, response, runtime))
    channels = _key_channels(runtime, token)
    if channel is None and len(channels) == 1:
        channel = channels[0]
    if channel is None:
        raise HTTPException(422, f"name the channel: this key speaks for {', '.join(channels)}")
    if channel not in channels:
        raise HTTPException(403, f"this key may not speak for the {channel[:32]!r} channel")
    if not sender:
        raise HTTPException(422, "an integration names the sender it speaks for")
    return Speaker(channel, sender)
