"""The database is down (a real refused connection) or refuses writes: every channel answers
in its own medium, the API says 503 with Retry-After, and /readyz is not fooled."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from bot import replies
from bot.runtime import Runtime
from bot.storage.db import Database
from evaluation.benchmarks.server import free_port
from evaluation.qa.provider_fakes import (
    FakeTelegram,
    text_update,
    twilio_signature,
    twilio_sms_form,
)
from tests.channels.channel_helpers import (
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    TWILIO_SID,
    TWILIO_TOKEN,
    app_for,
)
from tests.channels.voice_helpers import call_sid, caller_number, voice_form


@pytest.fixture
def down(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """The runtime with its database on a PostgreSQL port where nothing listens."""
    dead = Database(f"postgresql+psycopg://hotline@127.0.0.1:{free_port()}/hotline")
    monkeypatch.setattr(runtime.assistant, "db", dead)
    yield dataclasses.replace(runtime, db=dead)
    dead.engine.dispose()


@pytest.fixture
def bot_api() -> Iterator[FakeTelegram]:
    with FakeTelegram(TELEGRAM_TOKEN) as fake:
        yield fake


def app(runtime: Runtime, bot_api: FakeTelegram) -> TestClient:
    return TestClient(
        app_for(
            runtime,
            telegram_bot_token=TELEGRAM_TOKEN,
            telegram_secret_token=TELEGRAM_SECRET,
            telegram_api_url=bot_api.url,
            twilio_account_sid=TWILIO_SID,
            twilio_auth_token=TWILIO_TOKEN,
        )
    )


def signed(client: TestClient, path: str, form: dict[str, str]):  # type: ignore[no-untyped-def]
    signature = twilio_signature(TWILIO_TOKEN, f"http://testserver{path}", form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def test_an_outage_gets_a_polite_answer_on_every_channel(
    down: Runtime, bot_api: FakeTelegram
) -> None:
    with app(down, bot_api) as client:
        api = client.post(
            "/api/v1/messages", json={"channel": "web", "sender": "w1", "text": "hello"}
        )
        assert api.status_code == 503 and api.headers["Retry-After"]
        assert api.json()["detail"] == replies.UNAVAILABLE

        # Twilio does not retry an SMS webhook: the text is answered now.
        sms = signed(
            client, "/webhooks/twilio/sms", twilio_sms_form("+12065550111", "hi", TWILIO_SID)
        )
        assert sms.status_code == 200
        assert [m.text for m in ElementTree.fromstring(sms.text).iter("Message")] == [
            replies.UNAVAILABLE
        ]

        call = signed(client, "/webhooks/twilio/voice", voice_form(call_sid(), caller_number()))
        assert call.status_code == 200
        twiml = ElementTree.fromstring(call.text)
        assert twiml.findtext("Say") == replies.UNAVAILABLE_SPOKEN
        assert twiml.find("Hangup") is not None

        # Telegram retries: a 503 and Retry-After, and the chat is told once.
        update = text_update(4242, "hello")
        headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        for _ in range(3):
            response = client.post("/webhooks/telegram", json=update, headers=headers)
            assert response.status_code == 503 and response.headers["Retry-After"]
        assert [c.text for c in bot_api.sent(4242)] == [replies.UNAVAILABLE]


def test_readyz_proves_a_write(runtime: Runtime, bot_api: FakeTelegram, tmp_path: Path) -> None:
    with app(runtime, bot_api) as client:
        assert client.get("/readyz").status_code == 200
    path = tmp_path / "read-only.db"
    Database(f"sqlite:///{path}").migrate()
    read_only = Database(f"sqlite:///file:{path}?mode=ro&uri=true")  # reads yes, writes no
    assert read_only.ping()
    with app(dataclasses.replace(runtime, db=read_only), bot_api) as client:
        response = client.get("/readyz")
    assert response.status_code == 503 and "refuses writes" in response.json()["detail"]
    read_only.engine.dispose()


def test_readyz_checks_free_space(runtime: Runtime, bot_api: FakeTelegram) -> None:
    full = dataclasses.replace(
        runtime, settings=runtime.settings.model_copy(update={"ready_min_free_mb": 10**12})
    )
    with app(full, bot_api) as client:
        response = client.get("/readyz")
    assert response.status_code == 503 and "disk almost full" in response.json()["detail"]
