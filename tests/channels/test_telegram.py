"""Telegram: real Update JSON to our webhook, PTB's real Application, a local fake Bot API."""

from __future__ import annotations

import html
import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot import service_requests
from bot.contract import Choice, InboundMessage, OutboundMessage, Reply, Source
from bot.runtime import Runtime
from bot.storage.models import Conversation, Turn
from channels import telegram
from channels.rate_limit import SLOW_DOWN, RateLimiter
from evaluation.qa.provider_fakes import (
    FakeTelegram,
    callback_update,
    location_update,
    message_update,
    text_update,
    voice_update,
)
from tests.channels.channel_helpers import TELEGRAM_SECRET, TELEGRAM_TOKEN, app_for

HEADERS = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}


# -- rendering -------------------------------------------------------------------------------
def test_long_text_is_split_within_the_limit_at_breaks() -> None:
    paragraph = "The bins are collected every week on the same day. " * 30
    text = "\n\n".join([paragraph.strip()] * 6)  # about 9,000 characters
    pieces = telegram.split_text(text)
    assert len(pieces) >= 3
    assert all(telegram.utf16_len(p) <= 4096 for p in pieces)
    assert " ".join(pieces).split() == text.split()
    emoji = "🚧" * 5000  # two UTF-16 units each, no break anywhere
    pieces = telegram.split_text(emoji)
    assert all(telegram.utf16_len(p) <= 4096 for p in pieces) and "".join(pieces) == emoji


def test_render_escapes_html_links_sources_and_maps_choices() -> None:
    long_payload = "/locate:" + "x" * 80
    reply = Reply(
        messages=[
            OutboundMessage(
                text="Use <b>bold</b> & <script>alert(1)</script>",
                source=Source(
                    title="Bins & recycling", url="https://www.portalder.example/b?a=1&c=2"
                ),
            ),
            OutboundMessage(
                text="Where?",
                choices=[
                    Choice(title="Elm Street", payload="/locate:Elm Street"),
                    Choice(title="Long one", payload=long_payload),
                ],
            ),
            OutboundMessage(text="Bad link", source=Source(title="x", url="javascript:alert(1)")),
        ]
    )
    [(first, none), (second, keyboard), (third, _)] = telegram.render(reply)
    assert none is None and second == "Where?"
    assert "&lt;script&gt;" in first and "<script>" not in first
    assert '<a href="https://www.portalder.example/b?a=1&amp;c=2">Bins &amp; recycling</a>' in first
    assert keyboard is not None
    data = [row[0].callback_data for row in keyboard.inline_keyboard]
    assert data == ["/locate:Elm Street", "2"]  # too long for 64 bytes: its number instead
    assert "javascript" not in third and "<a" not in third


@pytest.mark.parametrize(
    ("command", "args", "text"),
    [
        ("start", [], "/greet"),
        ("help", [], "/help"),
        ("status", ["REQ-2026-000123"], "/request:REQ-2026-000123"),
        ("status", ["<script>"], "/check_status"),
        ("status", [], "/check_status"),
        ("language", ["ES"], "/language:es"),
        ("language", [], "/change_language"),
    ],
)
def test_commands_become_payloads(command: str, args: list[str], text: str) -> None:
    assert telegram.command_text(command, args) == text


# -- the webhook -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bot_api() -> Iterator[FakeTelegram]:
    with FakeTelegram(TELEGRAM_TOKEN) as fake:
        yield fake


def telegram_app(runtime: Runtime, bot_api: FakeTelegram, **extra: object) -> FastAPI:
    return app_for(
        runtime,
        telegram_bot_token=TELEGRAM_TOKEN,
        telegram_secret_token=TELEGRAM_SECRET,
        telegram_api_url=bot_api.url,
        **extra,
    )


@pytest.fixture(scope="module")
def client(runtime: Runtime, bot_api: FakeTelegram) -> Iterator[TestClient]:
    with TestClient(telegram_app(runtime, bot_api)) as test_client:
        yield test_client


def new_chat() -> int:
    return 10**9 + uuid.uuid4().int % 10**9


def post(client: TestClient, update: dict) -> dict:
    response = client.post("/webhooks/telegram", json=update, headers=HEADERS)
    assert response.status_code == 200, response.text
    return response.json()


def said(bot_api: FakeTelegram, chat: int, before: int = 0) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", c.text)) for c in bot_api.sent(chat)[before:]]


def test_unconfigured_telegram_refuses_its_webhook(runtime: Runtime, bot_api: FakeTelegram) -> None:
    update = text_update(new_chat(), "hello")
    plain = TestClient(app_for(runtime))
    assert plain.post("/webhooks/telegram", json=update, headers=HEADERS).status_code == 404
    no_secret = TestClient(
        app_for(runtime, telegram_bot_token=TELEGRAM_TOKEN, telegram_api_url=bot_api.url)
    )
    assert no_secret.post("/webhooks/telegram", json=update, headers=HEADERS).status_code == 403


def test_bad_or_missing_secret_is_403_and_nothing_is_sent(
    client: TestClient, bot_api: FakeTelegram
) -> None:
    chat = new_chat()
    update = text_update(chat, "hello")
    assert client.post("/webhooks/telegram", json=update).status_code == 403
    bad = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET + "x"}
    assert client.post("/webhooks/telegram", json=update, headers=bad).status_code == 403
    assert bot_api.sent(chat) == []


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"message": {}}',
        b'{"update_id": "7"}',
        b'{"update_id": 5, "message": 3}',
    ],
)
def test_malformed_updates_are_400(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/webhooks/telegram",
        content=body,
        headers={**HEADERS, "content-type": "application/json"},
    )
    assert response.status_code == 400


def test_text_message_is_answered(client: TestClient, bot_api: FakeTelegram) -> None:
    chat = new_chat()
    assert post(client, text_update(chat, "What is the emergency number?")) == {"ok": True}
    [call] = bot_api.sent(chat)
    assert "911" in call.text
    assert call.params["parse_mode"] == "HTML"
    assert '<a href="https://www.portalder.example/' in call.text  # the source as a link


def test_duplicate_update_is_answered_once(client: TestClient, bot_api: FakeTelegram) -> None:
    chat = new_chat()
    update = text_update(chat, "hello")
    post(client, update)
    post(client, update)  # Telegram's redelivery: handled again, answered from the turn's record
    assert len(bot_api.sent(chat)) == 1


def test_report_with_buttons_files_a_request(
    client: TestClient, bot_api: FakeTelegram, runtime: Runtime
) -> None:
    chat = new_chat()
    post(
        client,
        text_update(chat, "there is a deep pothole outside 12 Elm Street that burst my tyre"),
    )
    ask = bot_api.sent(chat)[-1]
    titles = [b["text"] for b in ask.buttons]
    assert "Message me here" in titles
    assert all(len(b["callback_data"].encode()) <= 64 for b in ask.buttons)
    tap = next(b for b in ask.buttons if b["text"] == "Message me here")
    before = len(bot_api.called("answerCallbackQuery"))
    post(client, callback_update(chat, tap["callback_data"]))
    assert len(bot_api.called("answerCallbackQuery")) == before + 1
    confirm = bot_api.sent(chat)[-1]
    assert "Shall I send" in confirm.text
    yes = next(b for b in confirm.buttons if b["text"] == "Yes")
    post(client, callback_update(chat, yes["callback_data"]))
    done = bot_api.sent(chat)[-1].text
    reference = re.search(r"REQ-\d{4}-\d{6}", done)
    assert reference is not None
    with runtime.db.sessions() as session:
        request = service_requests.find(session, reference.group(0))
        assert request is not None and request.service_code == "pothole"
        assert request.channel == "telegram" and request.reply_address == str(chat)
    post(client, text_update(chat, f"/status {reference.group(0)}"))
    assert reference.group(0) in bot_api.sent(chat)[-1].text


def test_location_pin_reaches_the_assistant(
    client: TestClient, bot_api: FakeTelegram, runtime: Runtime
) -> None:
    chat = new_chat()
    post(client, location_update(chat, 47.6037, -122.3322))
    assert bot_api.sent(chat)  # answered
    key = runtime.hasher(f"telegram:{chat}")
    with runtime.db.sessions() as session:
        texts = session.scalars(
            select(Turn.text)
            .join(Conversation, Conversation.id == Turn.conversation_id)
            .where(Conversation.sender_key == key, Turn.direction == "in")
        ).all()
    assert texts == ["[location]"]


def test_location_pin_fills_the_place(
    client: TestClient, bot_api: FakeTelegram, runtime: Runtime
) -> None:
    chat = new_chat()
    post(client, text_update(chat, "I want to report a pothole"))
    assert "where" in bot_api.sent(chat)[-1].text.lower()
    post(client, location_update(chat, 47.6037, -122.3322))  # on Elm Street, Old Town
    post(client, text_update(chat, "a deep hole in the road that damages car tyres"))
    tap = next(b for b in bot_api.sent(chat)[-1].buttons if b["text"] == "Message me here")
    post(client, callback_update(chat, tap["callback_data"]))
    assert "Elm Street" in bot_api.sent(chat)[-1].text
    post(client, text_update(chat, "yes"))
    reference = re.search(r"REQ-\d{4}-\d{6}", bot_api.sent(chat)[-1].text)
    assert reference is not None
    with runtime.db.sessions() as session:
        request = service_requests.find(session, reference.group(0))
        assert request is not None
        assert (request.street, request.district) == ("Elm Street", "Old Town")
        assert request.lat == pytest.approx(47.6037)


def test_commands(client: TestClient, bot_api: FakeTelegram) -> None:
    chat = new_chat()
    post(client, text_update(chat, "/start"))
    assert "Port Alder" in bot_api.sent(chat)[-1].text
    post(client, text_update(chat, "/help"))
    assert "person" in bot_api.sent(chat)[-1].text
    post(client, text_update(chat, "/language"))
    assert bot_api.sent(chat)[-1].buttons  # the languages, as buttons
    post(client, text_update(chat, "/status REQ-1999-000000"))
    assert "REQ-1999-000000" in bot_api.sent(chat)[-1].text
    post(client, text_update(chat, "/nonsense"))
    assert "person" in bot_api.sent(chat)[-1].text  # unknown commands get help


def test_groups_edits_and_stickers(client: TestClient, bot_api: FakeTelegram) -> None:
    group = -(10**12) - uuid.uuid4().int % 10**9
    update = text_update(group, "hello")
    update["message"]["chat"] = {"id": group, "type": "group", "title": "Neighbours"}
    post(client, update)
    assert bot_api.sent(group) == []
    chat = new_chat()
    edited = text_update(chat, "hello")
    edited["edited_message"] = edited.pop("message") | {"edit_date": 1}
    post(client, edited)
    assert bot_api.sent(chat) == []
    sticker = {
        "file_id": "s1",
        "file_unique_id": "s1",
        "width": 1,
        "height": 1,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
    }
    post(client, message_update(chat, sticker=sticker))
    assert bot_api.sent(chat)[-1].text == telegram.UNSUPPORTED


def test_long_reply_is_split_and_keyboard_comes_last(
    client: TestClient, bot_api: FakeTelegram
) -> None:
    chat = new_chat()
    channel = telegram.channel_for(client.app)
    reply = Reply(
        messages=[
            OutboundMessage(
                text=("A long answer. " * 700).strip(),
                source=Source(title="Source", url="https://www.portalder.example/x"),
                choices=[Choice(title="Yes", payload="/affirm")],
            )
        ]
    )
    assert client.portal is not None
    client.portal.call(channel.send_reply, chat, reply, "tg-long")
    calls = bot_api.sent(chat)
    assert len(calls) == 3
    assert all(telegram.utf16_len(html.unescape(c.text)) <= 4096 for c in calls)
    assert [bool(c.buttons) for c in calls] == [False, False, True]
    assert "portalder.example/x" in calls[-1].text


def test_over_the_limit_a_chat_is_told_once(runtime: Runtime, bot_api: FakeTelegram) -> None:
    with TestClient(telegram_app(runtime, bot_api, rate_limit_sender="2/minute")) as limited:
        chat = new_chat()
        for _ in range(4):
            post(limited, text_update(chat, "hello"))
        texts = [c.text for c in bot_api.sent(chat)]
        assert len(texts) == 3 and texts[-1] == SLOW_DOWN


# -- voice notes -------------------------------------------------------------------------------
def ogg_opus(text: str) -> bytes:
    """What a phone records: speech (espeak-ng) encoded as OGG/Opus at 48 kHz."""
    import soundfile

    from voice.audio import resample
    from voice.tts import Synthesizer

    pcm16, rate = Synthesizer().synthesize(text)
    samples = np.frombuffer(resample(pcm16, rate, 48000), dtype="<i2")
    out = io.BytesIO()
    soundfile.write(out, samples, 48000, format="OGG", subtype="OPUS")
    return out.getvalue()


def test_decode_voice_reads_ogg_opus() -> None:
    pcm16, rate = telegram.decode_voice(ogg_opus("hello"))
    assert rate == 48000 and len(pcm16) > 48000  # more than half a second of speech
    with pytest.raises(Exception):  # noqa: B017 - libsndfile's own error type
        telegram.decode_voice(b"OggS not really")


@pytest.fixture(scope="module")
def voice_client(
    runtime: Runtime, bot_api: FakeTelegram, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    from voice.asr import build_domain_model

    domain = build_domain_model(
        [
            "there is a pothole on elm street",
            "the street light is broken on oak avenue",
            "my bin was not emptied",
            "what is the emergency number",
            "I want to talk to a person",
        ],
        tmp_path_factory.mktemp("asr-domain"),
    ).directory
    app = telegram_app(runtime, bot_api)
    settings = app.state.settings
    # pocketsphinx with a domain model, the fallback engine (Whisper, the default, is
    # tested on real recordings in tests/voice/test_whisper.py).
    fallback = settings.model_copy(update={"asr_engine": "pocketsphinx"})
    app.state.telegram = telegram.TelegramChannel(
        settings,
        lambda: app.state.runtime,
        RateLimiter(),
        recognize=telegram.default_recognizer(fallback, Path(domain)),
    )
    with TestClient(app) as test_client:
        yield test_client


def last_intent(runtime: Runtime, chat: int) -> str | None:
    key = runtime.hasher(f"telegram:{chat}")
    with runtime.db.sessions() as session:
        return session.scalar(
            select(Turn.intent)
            .join(Conversation, Conversation.id == Turn.conversation_id)
            .where(Conversation.sender_key == key, Turn.direction == "in")
            .order_by(Turn.id.desc())
            .limit(1)
        )


def test_voice_note_is_transcribed_and_answered(
    voice_client: TestClient, bot_api: FakeTelegram, runtime: Runtime
) -> None:
    chat = new_chat()
    audio = ogg_opus("there is a pothole on elm street")
    file_id = bot_api.add_file(audio)
    post(voice_client, voice_update(chat, file_id, duration=3, size=len(audio)))
    assert [c.params["file_id"] for c in bot_api.called("getFile")][-1] == file_id
    heard, *answer = said(bot_api, chat)
    assert heard.startswith("I heard: ") and "pothole" in heard
    assert answer
    assert last_intent(runtime, chat) == "report_problem"  # handled like the typed text


def test_overlong_or_broken_voice_note_asks_for_text(
    voice_client: TestClient, bot_api: FakeTelegram
) -> None:
    chat = new_chat()
    post(voice_client, voice_update(chat, "never-downloaded", duration=900, size=9_000_000))
    assert "type" in said(bot_api, chat)[-1].lower()
    broken = bot_api.add_file(b"OggS" + b"\0" * 100)
    post(voice_client, voice_update(chat, broken, duration=2, size=104))
    assert "type" in said(bot_api, chat)[-1].lower()


def test_polling_mode_answers_updates(runtime: Runtime, bot_api: FakeTelegram) -> None:
    """What `hotline telegram --polling` runs: PTB's Updater fetching getUpdates."""
    import asyncio

    settings = telegram_app(runtime, bot_api).state.settings
    channel = telegram.TelegramChannel(settings, lambda: runtime, RateLimiter(), polling=True)
    chat = new_chat()
    bot_api.updates.append(text_update(chat, "What is the emergency number?"))

    async def poll_until_answered() -> None:
        application = channel.application
        async with application:
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(poll_interval=0, timeout=1)
            for _ in range(200):
                if bot_api.sent(chat):
                    break
                await asyncio.sleep(0.05)
            await application.updater.stop()
            await application.stop()

    asyncio.run(poll_until_answered())
    assert "911" in bot_api.sent(chat)[0].text
    assert bot_api.called("deleteWebhook")  # polling and a webhook exclude each other


# -- as Telegram really behaves ----------------------------------------------------------------
def test_a_blocked_bot_is_answered_200_and_the_chat_gets_no_notices(
    client: TestClient, bot_api: FakeTelegram, runtime: Runtime
) -> None:
    """sendMessage answers 403 for a resident who blocked the bot: Telegram must not be made
    to redeliver forever, and notices stop until the resident writes again."""
    from channels import outbound

    chat = new_chat()
    bot_api.script["sendMessage"] = [(403, "Forbidden: bot was blocked by the user")]
    assert post(client, text_update(chat, "hello")) == {"ok": True}
    assert outbound._opted_out(runtime, "telegram", str(chat))
    bot_api.script["sendMessage"] = []
    post(client, text_update(chat, "hello again"))  # unblocked: it writes to us
    assert not outbound._opted_out(runtime, "telegram", str(chat))
    assert bot_api.sent(chat)[-1].text


def test_each_part_is_sent_once_across_redeliveries(
    client: TestClient, bot_api: FakeTelegram, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second sendMessage of a two-part reply fails once: Telegram gets a 500 and
    redelivers; the first part is not sent again, the second is sent once."""
    chat = new_chat()
    real = runtime.assistant.handle

    def two_parts(message: InboundMessage) -> Reply:
        reply = real(message)  # the real turn, its record and all
        extra = OutboundMessage(text="And one more thing.")
        return reply.model_copy(update={"messages": [*reply.messages, extra]})

    monkeypatch.setattr(runtime.assistant, "handle", two_parts)
    update = text_update(chat, "What is the emergency number?")
    bot_api.script["sendMessage"] = [None, (500, "Internal Server Error")]
    try:
        first = client.post("/webhooks/telegram", json=update, headers=HEADERS)
    finally:
        bot_api.script["sendMessage"] = []
    assert first.status_code == 500
    post(client, update)
    post(client, update)
    texts = [c.text for c in bot_api.sent(chat)]
    assert len(texts) == 3 and texts[1] == texts[2] == "And one more thing."  # 1 fail, 1 ok
    assert "911" in texts[0]


def test_a_crash_mid_turn_leaves_the_redelivery_to_be_handled(
    client: TestClient, bot_api: FakeTelegram, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is claimed before the turn: a turn that dies is handled on redelivery."""
    chat = new_chat()
    update = text_update(chat, "What is the emergency number?")
    real = runtime.assistant.handle

    def dies(message: object) -> object:
        raise RuntimeError("the server died mid-turn")

    monkeypatch.setattr(runtime.assistant, "handle", dies)
    assert client.post("/webhooks/telegram", json=update, headers=HEADERS).status_code == 500
    monkeypatch.setattr(runtime.assistant, "handle", real)
    post(client, update)
    assert "911" in bot_api.sent(chat)[-1].text


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": 91, "message": {"message_id": 1, "date": 0, "text": "no chat"}},
        {"update_id": 92, "edited_message": {"message_id": 1, "date": 0, "text": "x"}},
    ],
)
def test_a_message_without_a_chat_is_400(client: TestClient, update: dict) -> None:
    response = client.post("/webhooks/telegram", json=update, headers=HEADERS)
    assert response.status_code == 400
    assert "chat" in response.text


def test_a_photo_caption_is_the_message_and_the_photo_goes_with_the_report(
    client: TestClient, bot_api: FakeTelegram, runtime: Runtime
) -> None:
    chat = new_chat()
    photo = [
        {"file_id": "small-id", "file_unique_id": "s", "width": 90, "height": 60},
        {"file_id": "large-id", "file_unique_id": "l", "width": 1280, "height": 960},
    ]
    caption = "there is a deep pothole outside 12 Elm Street that burst my tyre"
    post(client, message_update(chat, photo=photo, caption=caption))
    ask = bot_api.sent(chat)[-1]
    tap = next(b for b in ask.buttons if b["text"] == "Message me here")
    post(client, callback_update(chat, tap["callback_data"]))
    yes = next(b for b in bot_api.sent(chat)[-1].buttons if b["text"] == "Yes")
    post(client, callback_update(chat, yes["callback_data"]))
    reference = re.search(r"REQ-\d{4}-\d{6}", bot_api.sent(chat)[-1].text)
    assert reference is not None
    with runtime.db.sessions() as session:
        request = service_requests.find(session, reference.group(0))
        assert request is not None and request.service_code == "pothole"
        assert request.fields["telegram_photo"] == "large-id"


@pytest.mark.parametrize(
    ("parameter", "expected"),
    [("report-pothole", "/greet"), ("report_streetlight", "/greet"), ("<x>", "/greet")],
)
def test_start_deep_links(parameter: str, expected: str) -> None:
    text = telegram.command_text("start", [parameter])
    if parameter == "<x>":
        assert text == expected
    else:
        assert text == parameter.replace("-", " ").replace("_", " ")
    assert telegram.command_text("start", ["status-REQ-2026-000123"]) == "/request:REQ-2026-000123"


def test_a_start_deep_link_starts_the_matching_flow(
    client: TestClient, bot_api: FakeTelegram, runtime: Runtime
) -> None:
    chat = new_chat()
    post(client, text_update(chat, "/start report-pothole"))
    key = runtime.hasher(f"telegram:{chat}")
    with runtime.db.sessions() as session:
        conversation = session.scalar(select(Conversation).where(Conversation.sender_key == key))
        assert conversation is not None
        form = (conversation.state or {}).get("form") or {}
    assert form.get("service_code") == "pothole", bot_api.sent(chat)[-1].text


def test_a_crisis_gets_the_crisis_line_first_on_telegram(
    client: TestClient, bot_api: FakeTelegram
) -> None:
    chat = new_chat()
    post(client, text_update(chat, "i cant take it anymore, i want to end my life"))
    first, *rest = said(bot_api, chat)
    assert first.startswith("If you or someone you know is thinking of ending their life")
    assert "988" in first and "911" in first
    assert rest and "member of staff" in rest[0]


def test_a_chat_that_wrote_to_the_bot_gets_notices_and_no_other(
    client: TestClient, bot_api: FakeTelegram, runtime: Runtime
) -> None:
    import asyncio

    from telegram import Bot

    from bot import service_requests
    from bot.storage.models import ServiceRequest
    from channels.outbound import TelegramNoticeSender, deliver_pending

    wrote, stranger = new_chat(), new_chat()
    post(client, text_update(wrote, "hello"))
    ids = []
    with runtime.db.transaction() as session:
        for chat in (wrote, stranger):
            request = ServiceRequest(
                service_code="pothole", channel="telegram", reply_address=str(chat)
            )
            service_requests.file_request(session, request, actor="test")
            ids.append(service_requests.change_status(session, request, "acknowledged", "test").id)
    bot = Bot(TELEGRAM_TOKEN, base_url=f"{bot_api.url}/bot")
    senders = {"telegram": TelegramNoticeSender(bot)}
    outcomes = {o.notice_id: o.status for o in asyncio.run(deliver_pending(runtime, senders))}
    assert (outcomes[ids[0]], outcomes[ids[1]]) == ("delivered", "failed")
    assert bot_api.sent(stranger) == [] and "accepted" in said(bot_api, wrote)[-1]


def test_an_update_id_is_remembered_with_its_chat(
    client: TestClient, bot_api: FakeTelegram
) -> None:
    """Update ids are sequential: the same id from another chat is that chat's own update."""
    first, second = new_chat(), new_chat()
    update = text_update(first, "hello")
    post(client, update)
    other = text_update(second, "hello")
    other["update_id"] = update["update_id"]
    post(client, other)
    assert len(bot_api.sent(first)) == 1 and len(bot_api.sent(second)) == 1
