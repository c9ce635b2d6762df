"""Telegram: python-telegram-bot's Application fed by our webhook (or by polling).

Routes and handlers follow the Bot API: an Update comes in (message, callback query,
location, voice note, command); it becomes an ``InboundMessage`` with message_id
``tg-{update_id}``; the reply goes out with sendMessage, choices as an inline keyboard whose
callback data is the choice's payload, article sources as links, text split to Telegram's
4096-character limit. A webhook delivery Telegram retries is handled again, and answered
once: the turn's own record (the assistant's reply cache) commits with the turn, so a crash
mid-turn leaves nothing claimed and the redelivery is handled; each part of the reply is
claimed in ``channel_receipts`` (keyed with the chat) just before it is sent, so a part sent
before a failure is not sent again. A chat that blocked the bot (403) is marked unreachable,
answered 200 and sent no notices until it writes again. A photo's caption is the message and
the photo (its Telegram file id: a file URL would hold our token) goes with the next report.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import io
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, HTTPException, Request
from sqlalchemy.exc import IntegrityError
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ChatType, InlineKeyboardButtonLimit, MessageLimit, ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)

from bot import replies
from bot.assistant import InputTooLong
from bot.contract import InboundMessage, Location, OutboundMessage, Reply
from bot.runtime import Runtime
from bot.settings import Settings, secret_text
from bot.storage.channel_state import ChannelReceipt, OptOut, prove
from channels import outage
from channels.deps import get_runtime
from channels.rate_limit import SLOW_DOWN, RateLimiter, from_settings
from channels.request_limits import strict_json

log = logging.getLogger(__name__)
router = APIRouter(tags=["telegram"])

CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_VOICE_SECONDS = 120
MAX_VOICE_BYTES = 2_000_000
HEARD = "I heard: {text}"
CHOOSE = "Please choose:"
UNSUPPORTED = "Sorry, I can read text, voice messages and shared locations, but not this."
TOLD_KEPT = 10_000  # update ids remembered as told of an outage
UNREACHABLE = "blocked"  # OptOut.keyword of a chat whose Bot API answered 403
_REFERENCE = re.compile(r"^[A-Za-z0-9-]{1,40}$")
# /start deep links (t.me/<bot>?start=report-pothole): letters, digits, _ and - only.
_DEEP_LINK = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})?$")

Recognize = Callable[[bytes, int], str]  # (pcm16, rate) -> what was said


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Cut text into pieces Telegram accepts, at a paragraph, line or word break if there is one."""
    pieces: list[str] = []
    rest = text.strip()
    while utf16_len(rest) > limit:
        units = cut = 0
        for index, char in enumerate(rest):  # the longest prefix within the limit
            units += utf16_len(char)
            if units > limit:
                cut = index
                break
        window = rest[:cut]
        for separator in ("\n\n", "\n", " "):
            at = window.rfind(separator)
            if at > cut // 2:
                cut = at
                break
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def callback_data(payload: str, number: int) -> str:
    """A choice's payload, or its number when the payload is longer than Telegram's 64 bytes."""
    if len(payload.encode()) <= InlineKeyboardButtonLimit.MAX_CALLBACK_DATA:
        return payload
    return str(number)


def render(reply: Reply) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """A reply as Telegram messages: (HTML text, keyboard) pairs, each within the length limit."""
    out: list[tuple[str, InlineKeyboardMarkup | None]] = []
    number = 0
    for message in reply.messages:
        pieces = split_text(message.text) or [""]
        texts = [html.escape(piece, quote=False) for piece in pieces]
        link = _source_link(message)
        if link:
            visible, markup = link
            if utf16_len(pieces[-1]) + 2 + utf16_len(visible) <= MessageLimit.MAX_TEXT_LENGTH:
                texts[-1] = f"{texts[-1]}\n\n{markup}".strip()
            else:
                texts.append(markup)
        keyboard = None
        if message.choices:
            rows = []
            for choice in message.choices:
                number += 1
                rows.append(
                    [
                        InlineKeyboardButton(
                            choice.title, callback_data=callback_data(choice.payload, number)
                        )
                    ]
                )
            keyboard = InlineKeyboardMarkup(rows)
        out += [(text, None) for text in texts[:-1]]
        out.append((texts[-1], keyboard))
    return [(text or CHOOSE, keyboard) for text, keyboard in out if text or keyboard]


def _source_link(message: OutboundMessage) -> tuple[str, str] | None:
    source = message.source
    if source is None or not source.url.lower().startswith(("https://", "http://")):
        return None
    title = source.title[:200]
    return (
        f"Source: {title}",
        f'Source: <a href="{html.escape(source.url)}">{html.escape(title, quote=False)}</a>',
    )


def command_text(command: str, args: list[str]) -> str:
    """What a command means to the assistant, as the payload a button would send."""
    argument = args[0] if args else ""
    if command == "start":
        return deep_link_text(argument) if _DEEP_LINK.match(argument) else "/greet"
    if command == "status":
        return f"/request:{argument}" if _REFERENCE.match(argument) else "/check_status"
    if command == "language":
        return f"/language:{argument.lower()}" if _LANGUAGE.match(argument) else "/change_language"
    return "/help"


def deep_link_text(parameter: str) -> str:
    """A /start parameter as what the resident would have said: ``report-pothole`` is
    "report pothole", ``status-REQ-2026-000123`` asks for that request."""
    kind, _, rest = parameter.partition("-")
    if kind.lower() == "status" and _REFERENCE.match(rest):
        return f"/request:{rest}"
    return " ".join(parameter.replace("_", " ").replace("-", " ").split())


def decode_voice(data: bytes) -> tuple[bytes, int]:
    """Telegram's OGG/Opus voice note as mono 16-bit PCM and its sample rate (libsndfile)."""
    import soundfile

    samples, rate = soundfile.read(io.BytesIO(data), dtype="int16", always_2d=True)
    mono = samples.mean(axis=1).round().astype("<i2") if samples.shape[1] > 1 else samples[:, 0]
    return np.ascontiguousarray(mono, dtype="<i2").tobytes(), int(rate)


def default_recognizer(settings: Settings, domain_dir: Path | None = None) -> Recognize:
    """The configured speech recogniser (voice/), loaded on first use and shared.

    pocketsphinx uses a domain model when one is there (``domain_dir``, by default
    ``<data dir>/models/asr-domain``); its general English model is much less accurate.
    """
    from voice.asr import make_recognizer, transcribe

    domain = domain_dir or settings.model_dir / "asr-domain"
    lock = threading.Lock()
    loaded: list[Any] = []

    def recognize(pcm16: bytes, rate: int) -> str:
        with lock:
            if not loaded:
                loaded.append(
                    make_recognizer(
                        settings.asr_engine,
                        vosk_model=settings.vosk_model,
                        domain_dir=domain if domain.is_dir() else None,
                    )
                )
        return transcribe(loaded[0], pcm16, rate).text

    return recognize


class MalformedUpdate(ValueError):
    """JSON with an update_id that python-telegram-bot cannot read as an Update."""


class DatabaseDown(RuntimeError):
    """The update could not be handled: the database is unavailable. Telegram retries it."""

    def __init__(self, update: Update) -> None:
        super().__init__(f"update {update.update_id}: the database is unavailable")
        self.update = update


class TelegramChannel:
    """One PTB Application with our handlers; the runtime is looked up per update."""

    def __init__(
        self,
        settings: Settings,
        runtime: Callable[[], Runtime | None],
        limiter: RateLimiter,
        *,
        recognize: Recognize | None = None,
        polling: bool = False,
    ) -> None:
        if settings.telegram_bot_token is None:
            raise ValueError("HOTLINE_TELEGRAM_BOT_TOKEN is not set")
        api = settings.telegram_api_url.rstrip("/")
        builder = (
            Application.builder()
            .token(settings.telegram_bot_token.get_secret_value())
            .base_url(f"{api}/bot")
            .base_file_url(f"{api}/file/bot")
        )
        if not polling:
            builder = builder.updater(None)
        self.application = builder.build()
        self._runtime = runtime
        self.limiter = limiter
        self.recognize = recognize or default_recognizer(settings)
        self._failed: set[int] = set()
        self._database_down: set[int] = set()
        self._told: OrderedDict[int, None] = OrderedDict()  # updates told of an outage
        self._started = asyncio.Lock() if not polling else None
        # New messages in private chats only: an edited message is not a new turn.
        private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
        add = self.application.add_handler
        add(CommandHandler(["start", "help", "language", "status"], self._command, private))
        add(CallbackQueryHandler(self._callback))
        add(MessageHandler(private & filters.TEXT & ~filters.COMMAND, self._text))
        add(MessageHandler(private & filters.COMMAND, self._unknown_command))
        add(MessageHandler(private & filters.LOCATION, self._location))
        add(MessageHandler(private & filters.VOICE, self._voice))
        add(MessageHandler(private & filters.PHOTO, self._photo))
        add(MessageHandler(private & ~filters.StatusUpdate.ALL, self._unsupported))
        self.application.add_error_handler(self._error)

    @property
    def bot(self) -> ExtBot:
        return self.application.bot

    async def ensure_started(self) -> None:
        """Initialise once (getMe): command filters need the bot's username."""
        assert self._started is not None
        async with self._started:
            await self.application.initialize()  # does nothing the second time

    async def shutdown(self) -> None:
        await self.application.shutdown()  # does nothing if never initialised

    # -- webhook -------------------------------------------------------------------------
    async def handle_webhook(self, data: dict[str, Any]) -> None:
        """Handle one update from the webhook (again, if Telegram delivers it again)."""
        await self.ensure_started()
        try:
            update = Update.de_json(data, self.bot)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise MalformedUpdate(f"not a Telegram Update: {exc}") from exc
        if update.effective_message is not None and update.effective_chat is None:
            raise MalformedUpdate("not a Telegram Update: a message without a chat")
        self._failed.discard(update.update_id)
        await self.application.process_update(update)
        if update.update_id in self._failed:
            self._failed.discard(update.update_id)
            if update.update_id in self._database_down:
                self._database_down.discard(update.update_id)
                raise DatabaseDown(update)
            raise RuntimeError(f"update {update.update_id} failed; Telegram will retry it")

    async def tell_unavailable(self, update: Update) -> None:
        """Say once per update (in this process: no database to remember it in) that we are
        having trouble; Telegram's redelivery is handled properly once the database is back."""
        chat = update.effective_chat
        if chat is None or chat.type != ChatType.PRIVATE or update.update_id in self._told:
            return
        self._told[update.update_id] = None
        while len(self._told) > TOLD_KEPT:
            self._told.popitem(last=False)
        with contextlib.suppress(TelegramError):
            await self.bot.send_message(chat.id, replies.UNAVAILABLE)

    # -- handlers ------------------------------------------------------------------------
    async def _command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        command = message.text.split()[0].lstrip("/").split("@")[0].lower()
        await self._converse(update, text=command_text(command, list(context.args or [])))

    async def _unknown_command(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._converse(update, text="/help")

    async def _text(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await self._converse(update, text=update.effective_message.text)

    async def _callback(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        chat = update.effective_chat
        if chat is None or chat.type != ChatType.PRIVATE or not query.data:
            return
        await self._converse(
            update, text=str(query.data)[: InlineKeyboardButtonLimit.MAX_CALLBACK_DATA]
        )

    async def _location(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.location is not None
        pin = message.location
        label = message.venue.title if message.venue else None
        await self._converse(
            update, location=Location(lat=pin.latitude, lon=pin.longitude, label=label)
        )

    async def _voice(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.voice is not None
        voice = message.voice
        if not await self._allowed(update):
            return
        audio, heard = b"", ""
        duration = voice.duration  # an int, a timedelta in a later PTB
        seconds = duration.total_seconds() if isinstance(duration, timedelta) else duration
        if seconds <= MAX_VOICE_SECONDS and (voice.file_size or 0) <= MAX_VOICE_BYTES:
            try:
                file = await voice.get_file()
                audio = bytes(await file.download_as_bytearray())
                heard = await asyncio.to_thread(self._transcribe, audio)
            except Exception:  # not downloadable, not decodable, no recogniser: say so
                log.exception("voice note could not be transcribed")
        if heard:
            assert update.effective_chat is not None
            await self._send_text(update, HEARD.format(text=heard), part="heard")
            await self._converse(update, text=heard, counted=True)
        else:
            await self._converse(update, audio=audio or b"\0", counted=True)

    async def _photo(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """The caption is what the resident said; the photo goes with their report."""
        message = update.effective_message
        assert message is not None and message.photo
        largest = max(message.photo, key=lambda size: size.width * size.height)
        await self._converse(
            update,
            text=message.caption or "photo",
            attachments={"telegram_photo": largest.file_id},
        )

    def _transcribe(self, audio: bytes) -> str:
        pcm16, rate = decode_voice(audio)
        return " ".join(self.recognize(pcm16, rate).split())

    async def _unsupported(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_chat is not None and await self._allowed(update):
            await self._send_text(update, UNSUPPORTED, part="unsupported")

    async def _error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update failed", exc_info=context.error)
        if isinstance(update, Update) and self._started is not None:
            self._failed.add(update.update_id)
            if outage.is_database_down(context.error):
                self._database_down.add(update.update_id)

    # -- the turn ------------------------------------------------------------------------
    async def _allowed(self, update: Update) -> bool:
        """Count the message against the limits; tell the sender once when over."""
        chat = update.effective_chat
        assert chat is not None
        decision = self.limiter.hit(CHANNEL, str(chat.id))
        if not decision.allowed and decision.tell:
            await self._send_text(update, SLOW_DOWN, part="slow-down")
        return decision.allowed

    async def _converse(
        self,
        update: Update,
        *,
        text: str | None = None,
        location: Location | None = None,
        audio: bytes | None = None,
        counted: bool = False,
        attachments: dict[str, str] | None = None,
    ) -> None:
        chat = update.effective_chat
        assert chat is not None
        if not counted and not await self._allowed(update):
            return
        runtime = self._runtime()
        if runtime is None:
            raise RuntimeError("the assistant is still starting")
        await asyncio.to_thread(_reachable, runtime, chat.id)
        # The chat wrote to the bot (a webhook with our secret, or polling): notices may go to it.
        await asyncio.to_thread(prove, runtime.db, CHANNEL, runtime.hasher(str(chat.id)))
        message = InboundMessage(
            channel=CHANNEL,
            sender=str(chat.id),
            text=text,
            location=location,
            audio=audio,
            message_id=f"tg-{update.update_id}",
            metadata={"attachments": attachments} if attachments else {},
        )
        try:
            reply = await asyncio.to_thread(runtime.assistant.handle, message)
        except InputTooLong as exc:
            await self._send_text(update, f"Sorry, that message is too long. {exc}.", "long")
            return
        await self.send_reply(chat.id, reply, f"tg-{update.update_id}")

    async def send_reply(self, chat_id: int, reply: Reply, delivery: str) -> None:
        """Each part once, however often Telegram delivers the update; none to a blocked chat."""
        for number, (text, keyboard) in enumerate(render(reply)):
            sent = await self._once(
                chat_id,
                f"{delivery}:reply-{number}",
                self.bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=keyboard,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                ),
            )
            if not sent:
                return

    async def _send_text(self, update: Update, text: str, part: str) -> None:
        chat = update.effective_chat
        assert chat is not None
        for number, piece in enumerate(split_text(text)):
            message = self.bot.send_message(chat.id, piece)
            if not await self._once(chat.id, f"tg-{update.update_id}:{part}-{number}", message):
                return

    async def _once(self, chat_id: int, part: str, send: Coroutine[Any, Any, Any]) -> bool:
        """Send one part unless an earlier delivery of the update did; False if the chat is
        unreachable (nothing more should be sent to it). Other failures release the part,
        so Telegram's redelivery sends it. The receipt is keyed with the chat."""
        runtime = self._runtime()
        assert runtime is not None
        key = f"{chat_id}:{part}"
        if not await asyncio.to_thread(_claim, runtime, chat_id, key):
            send.close()
            return True
        try:
            await send
        except Forbidden:
            log.warning("telegram: the Bot API may not write to a chat; marked unreachable")
            await asyncio.to_thread(_unreachable, runtime, chat_id)
            return False
        except BaseException:
            await asyncio.to_thread(_release, runtime, chat_id, key)
            raise
        return True


def _claim(runtime: Runtime, chat_id: int, key: str) -> bool:
    try:
        with runtime.db.transaction() as session:
            sender_key = runtime.hasher(f"{CHANNEL}:{chat_id}")
            session.add(
                ChannelReceipt(channel=CHANNEL, sender_key=sender_key, message_id=key[:200])
            )
    except IntegrityError:
        return False
    return True


def _release(runtime: Runtime, chat_id: int, key: str) -> None:
    with runtime.db.transaction() as session:
        sender_key = runtime.hasher(f"{CHANNEL}:{chat_id}")
        receipt = session.get(ChannelReceipt, (CHANNEL, sender_key, key[:200]))
        if receipt is not None:
            session.delete(receipt)


def _unreachable(runtime: Runtime, chat_id: int) -> None:
    """No notices to a chat that blocked us (outbound skips opted-out addresses)."""
    key = runtime.hasher(str(chat_id))
    try:
        with runtime.db.transaction() as session:
            if session.get(OptOut, (CHANNEL, key)) is None:
                session.add(OptOut(channel=CHANNEL, address_key=key, keyword=UNREACHABLE))
    except IntegrityError:
        pass  # marked by a concurrent delivery


def _reachable(runtime: Runtime, chat_id: int) -> None:
    """A chat that writes to us again has unblocked the bot."""
    key = (CHANNEL, runtime.hasher(str(chat_id)))
    with runtime.db.sessions() as session:  # a read on every turn; a write only when marked
        mark = session.get(OptOut, key)
        if mark is None or mark.keyword != UNREACHABLE:
            return
    with runtime.db.transaction() as session:
        mark = session.get(OptOut, key)
        if mark is not None and mark.keyword == UNREACHABLE:
            session.delete(mark)


_channels_lock = threading.Lock()


def channel_for(app: Any) -> TelegramChannel:
    """The app's Telegram channel, built on first use from the app's settings."""
    with _channels_lock:
        channel: TelegramChannel | None = getattr(app.state, "telegram", None)
        if channel is None:
            channel = TelegramChannel(
                app.state.settings, lambda: app.state.runtime, app.state.rate_limiter
            )
            app.state.telegram = channel
    return channel


@router.post("/webhooks/telegram", include_in_schema=False)
async def telegram_webhook(request: Request) -> dict[str, bool]:
    """Telegram's webhook: the secret token header must match, or nothing is read."""
    settings: Settings = request.app.state.settings
    if settings.telegram_bot_token is None:
        raise HTTPException(404, "Telegram is not configured on this server")
    secret = secret_text(settings.telegram_secret_token)
    if secret is None:
        raise HTTPException(
            403, "Telegram webhook refused: HOTLINE_TELEGRAM_SECRET_TOKEN is not set"
        )
    given = request.headers.get(SECRET_HEADER, "").encode()
    if not hmac.compare_digest(given, secret.encode()):
        raise HTTPException(403, "bad or missing secret token")
    get_runtime(request)  # 503 while the assistant is starting, before anything is read
    try:
        data = strict_json(await request.body())
    except ValueError as exc:
        raise HTTPException(400, f"the body is not usable JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise HTTPException(400, "not a Telegram Update: no integer update_id")
    channel = channel_for(request.app)
    try:
        await channel.handle_webhook(data)
    except MalformedUpdate as exc:
        raise HTTPException(400, str(exc)) from exc
    except DatabaseDown as exc:
        await channel.tell_unavailable(exc.update)
        raise HTTPException(503, str(exc), headers={"Retry-After": outage.RETRY_AFTER}) from exc
    except RuntimeError as exc:
        raise HTTPException(500, str(exc)) from exc
    return {"ok": True}


def run_polling(settings: Settings) -> None:
    """`hotline telegram --polling`: no public URL needed; for a quick local start."""
    from bot.runtime import build_runtime

    runtime = build_runtime(settings)
    limiter = from_settings(settings, lambda: runtime.db)
    channel = TelegramChannel(settings, lambda: runtime, limiter, polling=True)
    channel.application.run_polling(allowed_updates=Update.ALL_TYPES)


async def set_webhook(settings: Settings) -> str:
    """Tell Telegram where our webhook is (HOTLINE_PUBLIC_URL) and which secret it must send."""
    if not settings.public_url or settings.telegram_secret_token is None:
        raise ValueError("set HOTLINE_PUBLIC_URL and HOTLINE_TELEGRAM_SECRET_TOKEN first")
    url = settings.public_url.rstrip("/") + "/webhooks/telegram"
    channel = TelegramChannel(settings, lambda: None, RateLimiter())
    async with channel.application:
        await channel.bot.set_webhook(
            url,
            secret_token=settings.telegram_secret_token.get_secret_value(),
            allowed_updates=["message", "callback_query"],
        )
    return url
