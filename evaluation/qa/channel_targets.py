"""Conversation-test targets that play a suite through a running server's channels.

Beside evaluation.qa.targets.RestTarget (POST /api/v1/messages): ``TelegramTarget`` posts real
Telegram Updates to the webhook and reads the replies off a local fake Bot API (the server's
HOTLINE_TELEGRAM_API_URL must point at it); ``SmsTarget`` posts Twilio-signed forms to the SMS
webhook and reads the TwiML (following "Reply MORE"). Each gives back a ``Reply`` rebuilt from
what the resident would see, so one YAML file runs unchanged through every channel. What
only the assistant knows (intent, entities, handoff) is not visible over Telegram or SMS and
is reported as unchecked; ``filed`` is read from the public status route (service_code,
status, district)."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import httpx

from bot.contract import Choice, OutboundMessage, Reply, Source
from channels import sms
from evaluation.qa.conversations import Target, Unsupported
from evaluation.qa.provider_fakes import (
    FakeTelegram,
    callback_update,
    location_update,
    text_update,
    twilio_signature,
    twilio_sms_form,
)
from evaluation.qa.targets import RestTarget

FILED = re.compile(r"reference number is (REQ-\d{4}-\d{6})")
_LINK = re.compile(r'<a href="([^"]*)">(.*?)</a>', re.S)
_TAG = re.compile(r"<[^>]+>")
_CHOICE_LINE = re.compile(r"^(\d+)\. (.+)$")
_SOURCE_LINE = re.compile(r"^More: (https?://\S+)$", re.M)


def _filed_reference(text: str) -> str | None:
    match = FILED.search(text)
    return match.group(1) if match else None


class _OverHttp(RestTarget):
    """What a channel shares with REST: the public status route; no clock, no intent."""

    unobservable = ("intent", "entities", "handoff", "ends")

    def __init__(self, client: httpx.Client) -> None:
        super().__init__(str(client.base_url), client=client)

    def advance(self, by: timedelta) -> None:
        raise Unsupported("a running server's clock cannot be moved; run this in process")


class TelegramTarget(_OverHttp):
    """A resident in a private Telegram chat: typed text, button taps, location pins."""

    def __init__(self, client: httpx.Client, secret_token: str, bot_api: FakeTelegram) -> None:
        super().__init__(client)
        self.secret_token = secret_token
        self.bot_api = bot_api
        self._keyboards: dict[int, list[dict[str, str]]] = {}

    @staticmethod
    def chat_id(sender: str) -> int:
        return 10**9 + int(hashlib.sha256(sender.encode()).hexdigest()[:12], 16) % 10**9

    def send(self, message: dict[str, Any]) -> Reply:
        chat = self.chat_id(str(message["sender"]))
        if message.get("dtmf"):
            raise Unsupported("Telegram has no keypad (dtmf)")
        if message.get("location"):
            pin = message["location"]
            update = location_update(chat, float(pin["lat"]), float(pin["lon"]))
        else:
            text = str(message.get("text", ""))
            button = self._button(chat, text)
            update = (
                callback_update(chat, button["callback_data"])
                if button
                else text_update(chat, text)
            )
        before = len(self.bot_api.sent(chat))
        response = self.client.post(
            "/webhooks/telegram",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": self.secret_token},
        )
        response.raise_for_status()
        calls = self.bot_api.sent(chat)[before:]
        messages = [self._message(call.text, call.buttons) for call in calls]
        self._keyboards[chat] = [b for call in calls for b in call.buttons]
        text = "\n\n".join(m.text for m in messages)
        return Reply(messages=messages, filed_reference=_filed_reference(text))

    def _button(self, chat: int, text: str) -> dict[str, str] | None:
        """The button a resident would tap for this answer: by its number or its title."""
        buttons = self._keyboards.get(chat, [])
        wanted = text.strip().rstrip(".").lower()
        if wanted.isdigit() and 1 <= int(wanted) <= len(buttons):
            return buttons[int(wanted) - 1]
        return next((b for b in buttons if b["text"].lower() == wanted), None)

    @staticmethod
    def _message(markup: str, buttons: list[dict[str, str]]) -> OutboundMessage:
        source = None
        link = _LINK.search(markup)
        if link:
            source = Source(title=html.unescape(link.group(2)), url=html.unescape(link.group(1)))
        return OutboundMessage(
            text=html.unescape(_TAG.sub("", markup)),
            choices=[Choice(title=b["text"], payload=b["callback_data"]) for b in buttons],
            source=source,
        )


class SmsTarget(_OverHttp):
    """A resident texting from a phone: every message signed as Twilio signs it."""

    def __init__(
        self,
        client: httpx.Client,
        auth_token: str,
        account_sid: str,
        public_url: str | None = None,
    ) -> None:
        super().__init__(client)
        self.auth_token = auth_token
        self.account_sid = account_sid
        self.public_url = (public_url or str(client.base_url)).rstrip("/")

    @staticmethod
    def phone(sender: str) -> str:
        return "+1555" + str(int(hashlib.sha256(sender.encode()).hexdigest()[:10], 16))[-7:].zfill(
            7
        )

    def text(self, phone: str, body: str) -> str:
        """Send one SMS; the text of the TwiML answer ('' when it says nothing)."""
        form = twilio_sms_form(phone, body, self.account_sid)
        url = f"{self.public_url}/webhooks/twilio/sms"
        signature = twilio_signature(self.auth_token, url, form)
        response = self.client.post(
            "/webhooks/twilio/sms", data=form, headers={"X-Twilio-Signature": signature}
        )
        response.raise_for_status()
        root = ElementTree.fromstring(response.text)
        return "\n\n".join((m.text or "") for m in root.iter("Message"))

    def send(self, message: dict[str, Any]) -> Reply:
        if message.get("dtmf") or message.get("location"):
            raise Unsupported("SMS carries text only (no dtmf, no location pin)")
        body = str(message.get("text", ""))
        if sms.keyword(body) in sms.OPT_OUT:
            raise Unsupported(f"over SMS a bare {body.strip()!r} opts the number out (carriers)")
        phone = self.phone(str(message["sender"]))
        parts = [self.text(phone, body)]
        while parts[-1].endswith(sms.MORE_HINT) and len(parts) < 20:
            parts[-1] = parts[-1].removesuffix(sms.MORE_HINT).rstrip()
            parts.append(self.text(phone, "MORE"))
        text = " ".join(parts)
        choices = [
            Choice(title=m.group(2), payload=m.group(1))
            for line in text.splitlines()
            if (m := _CHOICE_LINE.match(line.strip()))
        ]
        link = _SOURCE_LINE.search(text)
        source = Source(title=link.group(1), url=link.group(1)) if link else None
        return Reply(
            messages=[OutboundMessage(text=text, choices=choices, source=source)] if text else [],
            filed_reference=_filed_reference(text),
        )


def make_target(channel: str, *, url: str | None, settings: Any) -> Target:
    """``hotline test --channel telegram|sms [--url URL]``.

    With a URL, the running server must use the same HOTLINE_TELEGRAM_* / HOTLINE_TWILIO_*
    settings as this command, and for Telegram HOTLINE_TELEGRAM_API_URL must be a loopback
    address: the fake Bot API is started there to catch the replies. Without a URL the app
    runs in this process on a scratch copy of the data dir, with test credentials.
    """
    if channel not in ("telegram", "sms"):
        raise Unsupported(f"no channel target for {channel!r}: use telegram or sms")
    if url is None:
        return _in_process(channel, settings)
    client = httpx.Client(base_url=url.rstrip("/"), timeout=60)
    if channel == "sms":
        if not (settings.twilio_auth_token and settings.twilio_account_sid):
            raise Unsupported("set HOTLINE_TWILIO_ACCOUNT_SID and HOTLINE_TWILIO_AUTH_TOKEN")
        return SmsTarget(
            client,
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_account_sid,
            settings.public_url,
        )
    if not (settings.telegram_bot_token and settings.telegram_secret_token):
        raise Unsupported("set HOTLINE_TELEGRAM_BOT_TOKEN and HOTLINE_TELEGRAM_SECRET_TOKEN")
    api = urlsplit(settings.telegram_api_url)
    if api.hostname not in ("127.0.0.1", "localhost", "::1") or not api.port:
        raise Unsupported(
            "HOTLINE_TELEGRAM_API_URL must be a loopback address with a port (for the fake "
            "Bot API), on this command and on the server"
        )
    bot_api = FakeTelegram(settings.telegram_bot_token.get_secret_value(), port=api.port)
    return TelegramTarget(client, settings.telegram_secret_token.get_secret_value(), bot_api)


def _in_process(channel: str, settings: Any) -> Target:
    import dataclasses
    import secrets

    from fastapi.testclient import TestClient

    from bot.runtime import build_runtime
    from channels.app import create_app
    from evaluation.qa.targets import scratch_copy

    token = f"{secrets.randbelow(10**9)}:{secrets.token_urlsafe(24)}"
    bot_api = FakeTelegram(token)
    options = {
        "data_dir": scratch_copy(settings.data_dir),
        "database_url": None,
        "telegram_bot_token": token,
        "telegram_secret_token": secrets.token_urlsafe(24),
        "telegram_api_url": bot_api.url,
        "twilio_account_sid": "AC" + secrets.token_hex(16),
        "twilio_auth_token": secrets.token_hex(16),
        "public_url": None,
        "notice_interval_seconds": 0,
    }
    scratch = type(settings)(_env_file=None, **{**settings.model_dump(), **options})
    runtime = build_runtime(scratch)
    client = TestClient(create_app(runtime=dataclasses.replace(runtime, settings=scratch)))
    client.__enter__()  # one event loop for the life of the target (PTB's HTTP client)
    if channel == "sms":
        assert scratch.twilio_auth_token and scratch.twilio_account_sid
        return SmsTarget(
            client, scratch.twilio_auth_token.get_secret_value(), scratch.twilio_account_sid
        )
    assert scratch.telegram_secret_token
    return TelegramTarget(client, scratch.telegram_secret_token.get_secret_value(), bot_api)
