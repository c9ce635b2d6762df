"""Notices to residents outside a turn (status changes, staff replies), on the channel they used.

The core and the staff console only write ``Notice`` rows (``service_requests.change_status``
does); ``deliver_pending`` sends them with the ``NoticeSender`` of their channel and records
the outcome on the row: ``sent`` or ``delivered`` with the time and the provider's message id,
or ``failed`` with the error. A channel with no configured sender leaves its notices
``pending`` (they go out once it is configured). A number that said STOP gets nothing.
Phone callers get their notices by SMS, to the number they called from.

A notice goes only to an address its channel has proven (``proven_addresses``): a Telegram
chat that wrote to the bot, a number that texted us (``sms``) or called us (``voice``). A
report filed in someone else's name (an integration naming any number) makes the city
message no one: its notices fail with the reason. Web notices wait for the browser that
holds the session cookie, which is its own proof.

A notice is claimed before it is sent (``pending`` -> ``sending``, compare-and-set), so two
app instances never send the same notice; one left ``sending`` by a crash is retried after
``STALE_CLAIM``. Transient errors (network, 5xx) leave it pending for the next round until
it is ``GIVE_UP_AFTER`` old; refusals (bad number, bot blocked) fail it at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy import and_, func, or_, select, update
from sse_starlette import EventSourceResponse, ServerSentEvent
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bot.assistant import aware
from bot.contract import TextPart, text_parts
from bot.runtime import Runtime
from bot.settings import Settings
from bot.storage.channel_state import OptOut, is_proven
from bot.storage.models import Notice
from channels import live
from channels.deps import RuntimeDep
from channels.rest_sender import WEB_CHANNEL, cookie_sender, web_sender
from channels.sms import plain

log = logging.getLogger(__name__)
router = APIRouter(tags=["notices"])

STALE_CLAIM = timedelta(minutes=10)
GIVE_UP_AFTER = timedelta(days=1)
WEB_CHANNELS = (WEB_CHANNEL,)
NOT_PROVEN = (
    "the address never reached us on {channel} (no message or call came from it), "
    "so nothing is sent to it"
)
VOICE_CHANNEL = "voice"  # channels.voice_line.CHANNEL; its notices go out by SMS


class PermanentFailure(Exception):
    """The provider refused for good (unknown number, bot blocked): do not retry."""


@dataclass(frozen=True)
class Sent:
    status: str  # sent | delivered
    provider_id: str | None = None


class NoticeSender(Protocol):
    """Sends one notice's text to an address on one channel."""

    channel: str

    async def send(self, address: str, text: str) -> Sent: ...


# -- the senders ---------------------------------------------------------------------------
class WebNoticeSender:
    """Web chat has no push: the notice waits for the page to fetch it (POST /api/v1/notices)."""

    def __init__(self, channel: str = "web") -> None:
        self.channel = channel

    async def send(self, address: str, text: str) -> Sent:
        return Sent("sent")


class TelegramNoticeSender:
    """A Bot API sendMessage through python-telegram-bot; Telegram holds it for the chat."""

    channel = "telegram"

    def __init__(self, bot: Any, ready: Callable[[], Awaitable[None]] | None = None) -> None:
        self.bot = bot
        self.ready = ready

    async def send(self, address: str, text: str) -> Sent:
        from telegram.error import BadRequest, Forbidden

        from channels.telegram import split_text

        if self.ready is not None:
            await self.ready()
        try:
            ids = [
                (await self.bot.send_message(int(address), piece)).message_id
                for piece in split_text(text)
            ]
        except (Forbidden, BadRequest, ValueError) as exc:
            raise PermanentFailure(f"Telegram refused: {exc}") from exc
        return Sent("delivered", ",".join(map(str, ids))[:120])


class RedirectedTwilioHttpClient(TwilioHttpClient):
    """twilio's own HTTP client, sending to another base URL (a local fake in tests)."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        origin = "https://api.twilio.com"
        if url.startswith(origin):
            url = self.base_url + url[len(origin) :]
        return super().request(method, url, *args, **kwargs)


class SmsNoticeSender:
    """An SMS through twilio's REST ``Client`` (messages.create), reported back by callback."""

    channel = "sms"

    def __init__(self, settings: Settings) -> None:
        if not (settings.twilio_account_sid and settings.twilio_auth_token):
            raise ValueError("HOTLINE_TWILIO_ACCOUNT_SID and HOTLINE_TWILIO_AUTH_TOKEN are needed")
        if not settings.twilio_from_number:
            raise ValueError("HOTLINE_TWILIO_FROM_NUMBER is needed to send SMS")
        api = settings.twilio_api_url
        http_client = RedirectedTwilioHttpClient(api) if api else None
        self.client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            http_client=http_client,
        )
        self.from_number = settings.twilio_from_number
        self.status_callback = (
            settings.public_url.rstrip("/") + "/webhooks/twilio/sms/status"
            if settings.public_url
            else None
        )

    async def send(self, address: str, text: str) -> Sent:
        return await asyncio.to_thread(self._send, address, text)

    def _send(self, address: str, text: str) -> Sent:
        options = {"status_callback": self.status_callback} if self.status_callback else {}
        try:
            message = self.client.messages.create(
                to=address, from_=self.from_number, body=plain(text), **options
            )
        except TwilioRestException as exc:
            if exc.status < 500 and exc.status != 429:
                raise PermanentFailure(f"Twilio refused ({exc.code}): {exc.msg}") from exc
            raise
        return Sent("sent", message.sid)


class CallerSmsSender:
    """Notices for phone callers go out as SMS to the number they called from.

    A call cannot be rung back with a status update, so the phone channel's notices take the
    SMS sender; ``channel`` is "sms" so that a number that texted STOP gets none of them.
    """

    channel = "sms"

    def __init__(self, sms: SmsNoticeSender) -> None:
        self.sms = sms

    async def send(self, address: str, text: str) -> Sent:
        if not address.startswith("+"):  # a withheld number is kept as "call:<CallSid>"
            raise PermanentFailure("the caller's number was withheld: no SMS can reach them")
        return await self.sms.send(address, text)


def build_senders(
    settings: Settings, telegram: TelegramNoticeSender | None = None
) -> dict[str, NoticeSender]:
    """A sender for every channel this server is configured for (web chat always)."""
    senders: dict[str, NoticeSender] = {c: WebNoticeSender(c) for c in WEB_CHANNELS}
    if telegram is not None:
        senders["telegram"] = telegram
    if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number:
        sms = SmsNoticeSender(settings)
        senders["sms"] = sms
        senders[VOICE_CHANNEL] = CallerSmsSender(sms)
    return senders


# -- delivery ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    notice_id: int
    status: str
    error: str | None = None


async def deliver_pending(
    runtime: Runtime, senders: Mapping[str, NoticeSender], *, limit: int = 100
) -> list[Outcome]:
    """Send the pending notices of the configured channels; record what happened to each."""
    if not senders:
        return []
    due = await asyncio.to_thread(_due, runtime, list(senders), limit)
    outcomes = []
    for notice_id, channel, address in due:
        outcome = await _deliver(runtime, senders[channel], notice_id, channel, address)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def _due(runtime: Runtime, channels: list[str], limit: int) -> list[tuple[int, str, str | None]]:
    stale = datetime.now(UTC) - STALE_CLAIM
    with runtime.db.sessions() as session:
        rows = session.execute(
            select(Notice.id, Notice.channel, Notice.address)
            .where(
                Notice.channel.in_(channels),
                or_(
                    Notice.status == "pending",
                    and_(Notice.status == "sending", Notice.sent_at < stale),
                ),
            )
            .order_by(Notice.id)
            .limit(limit)
        ).all()
    return [(row.id, row.channel, row.address) for row in rows]


def _claim(runtime: Runtime, notice_id: int) -> tuple[str, datetime] | None:
    """pending -> sending, only if no one else did it first; returns the text to send."""
    now = datetime.now(UTC)
    stale = now - STALE_CLAIM
    with runtime.db.transaction() as session:
        claimed = session.execute(
            update(Notice)
            .where(
                Notice.id == notice_id,
                or_(
                    Notice.status == "pending",
                    and_(Notice.status == "sending", Notice.sent_at < stale),
                ),
            )
            .values(status="sending", sent_at=now)
        ).rowcount
        if not claimed:
            return None
        notice = session.get(Notice, notice_id)
        assert notice is not None
        return notice.signed_text, aware(notice.created_at)


def _record(runtime: Runtime, notice_id: int, **values: Any) -> None:
    with runtime.db.transaction() as session:
        session.execute(update(Notice).where(Notice.id == notice_id).values(**values))


def _proven(runtime: Runtime, channel: str, address: str) -> bool:
    with runtime.db.sessions() as session:
        return is_proven(session, channel, runtime.hasher(address))


def _opted_out(runtime: Runtime, channel: str, address: str) -> bool:
    with runtime.db.sessions() as session:
        return session.get(OptOut, (channel, runtime.hasher(address))) is not None


async def _deliver(
    runtime: Runtime, sender: NoticeSender, notice_id: int, channel: str, address: str | None
) -> Outcome | None:
    claim = await asyncio.to_thread(_claim, runtime, notice_id)
    if claim is None:
        return None
    text, created = claim
    now = datetime.now(UTC)
    error: str | None = None
    if not address:
        error = "no address to send to"
    elif await asyncio.to_thread(_opted_out, runtime, sender.channel, address):
        error = "the resident opted out (STOP)"
    elif channel not in WEB_CHANNELS and not await asyncio.to_thread(
        _proven, runtime, channel, address
    ):
        error = NOT_PROVEN.format(channel=channel)
    if error:
        await asyncio.to_thread(_record, runtime, notice_id, status="failed", error=error)
        return Outcome(notice_id, "failed", error)
    assert address is not None
    try:
        sent = await sender.send(address, text)
    except PermanentFailure as exc:
        await asyncio.to_thread(_record, runtime, notice_id, status="failed", error=str(exc))
        return Outcome(notice_id, "failed", str(exc))
    except Exception as exc:  # network, provider 5xx: try again next round, for a while
        error = f"{type(exc).__name__}: {exc}"[:500]
        status = "failed" if now - created > GIVE_UP_AFTER else "pending"
        log.warning("notice %s not sent (%s): %s", notice_id, status, type(exc).__name__)
        await asyncio.to_thread(
            _record, runtime, notice_id, status=status, error=error, sent_at=None
        )
        return Outcome(notice_id, status, error)
    await asyncio.to_thread(
        _record,
        runtime,
        notice_id,
        status=sent.status,
        provider_id=sent.provider_id,
        sent_at=now,
        error=None,
    )
    return Outcome(notice_id, sent.status)


async def notice_loop(app: Any, interval: float) -> None:
    """Deliver pending notices every ``interval`` seconds while the app runs."""
    while True:
        await asyncio.sleep(interval)
        runtime: Runtime | None = app.state.runtime
        if runtime is None:
            continue
        try:
            await deliver_pending(runtime, app_senders(app))
        except Exception:
            log.exception("notice delivery round failed")


def app_senders(app: Any) -> dict[str, NoticeSender]:
    """The app's senders, built once from its settings (Telegram through the webhook's bot)."""
    senders = getattr(app.state, "notice_senders", None)
    if senders is None:
        settings: Settings = app.state.settings
        telegram = None
        if settings.telegram_bot_token is not None:
            from channels.telegram import channel_for

            channel = channel_for(app)
            telegram = TelegramNoticeSender(channel.bot, ready=channel.ensure_started)
        senders = app.state.notice_senders = build_senders(settings, telegram)
    return senders


# -- web chat pickup -----------------------------------------------------------------------
class WebNotice(BaseModel):
    """A notice as the page shows it: ``author`` (a staff reply's writer) labels it apart."""

    id: int
    text: str
    author: str | None = None
    parts: list[TextPart]
    created_at: datetime


@router.post("/api/v1/notices", response_model=list[WebNotice])
async def fetch_notices(request: Request, response: Response, rt: RuntimeDep) -> list[WebNotice]:
    """The notices of the web session in the cookie, each handed out once, then delivered.

    Whatever the body says is ignored: only the session cookie says whose notices these are.
    POST with a JSON content type, like the messages it goes with (channels/rest_sender).
    """
    sender = await run_in_threadpool(web_sender, request, response, rt)
    return await run_in_threadpool(_pickup, rt, WEB_CHANNEL, sender)


def _pickup(runtime: Runtime, channel: str, sender: str) -> list[WebNotice]:
    now = datetime.now(UTC)
    with runtime.db.transaction() as session:
        notices = session.scalars(
            select(Notice)
            .where(
                Notice.channel == channel,
                Notice.address == sender,
                Notice.status.in_(("pending", "sent")),
            )
            .order_by(Notice.id)
            .limit(20)
            .with_for_update()
        ).all()
        for notice in notices:
            notice.status = "delivered"
            notice.sent_at = notice.sent_at or now
        return [
            WebNotice(
                id=n.id,
                text=n.text,
                author=n.author,
                parts=text_parts(n.text),
                created_at=n.created_at,
            )
            for n in notices
        ]


@router.get("/api/v1/notices/stream", response_class=EventSourceResponse)
async def notice_stream(request: Request, rt: RuntimeDep) -> EventSourceResponse:
    """Server-sent events: ``notice`` as soon as the session has a notice waiting, so the
    page fetches it (POST /api/v1/notices, which hands each out once) without waiting for
    its poll. The stream carries no text: the session cookie alone says whose it is."""
    sender = await run_in_threadpool(cookie_sender, request, rt)
    return live.respond(request.app, f"web:{sender}", 0, lambda seen: _waiting(rt, sender, seen))


def _waiting(runtime: Runtime, sender: str, seen: int) -> tuple[list[ServerSentEvent], int]:
    with runtime.db.sessions() as session:
        newest = session.scalar(
            select(func.max(Notice.id)).where(
                Notice.channel == WEB_CHANNEL,
                Notice.address == sender,
                Notice.status.in_(("pending", "sent")),
            )
        )
    if newest is None or newest <= seen:
        return [], seen
    return [ServerSentEvent(data="", event="notice", id=str(newest))], newest
