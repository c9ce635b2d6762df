"""One conversation file, unchanged, through REST, Telegram and SMS: the same request each time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot import service_requests
from bot.runtime import Runtime
from evaluation.qa.channel_targets import SmsTarget, TelegramTarget
from evaluation.qa.conversations import load_suite, run_conversation
from evaluation.qa.provider_fakes import FakeTelegram
from evaluation.qa.targets import RestTarget
from tests.channels.channel_helpers import (
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    TWILIO_SID,
    TWILIO_TOKEN,
    app_for,
    integration_key,
)
from tests.conftest import ROOT

[PARITY] = load_suite(ROOT / "tests" / "conversations" / "parity" / "report_pothole.yml")


@pytest.fixture(scope="module")
def bot_api() -> Iterator[FakeTelegram]:
    with FakeTelegram(TELEGRAM_TOKEN) as fake:
        yield fake


@pytest.fixture(scope="module")
def client(runtime: Runtime, bot_api: FakeTelegram) -> Iterator[TestClient]:
    app = app_for(
        runtime,
        telegram_bot_token=TELEGRAM_TOKEN,
        telegram_secret_token=TELEGRAM_SECRET,
        telegram_api_url=bot_api.url,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
    )
    with TestClient(app) as test_client:
        yield test_client


def targets(client: TestClient, bot_api: FakeTelegram, runtime: Runtime) -> dict[str, object]:
    """REST speaks for the conversation's own channel with an integration key, as QA would."""
    key = integration_key(runtime, PARITY.channel)
    return {
        "rest": RestTarget(str(client.base_url), client=client, api_key=key),
        "telegram": TelegramTarget(client, TELEGRAM_SECRET, bot_api),
        "sms": SmsTarget(client, TWILIO_TOKEN, TWILIO_SID),
    }


def test_the_same_file_files_the_same_request_on_every_channel(
    client: TestClient, bot_api: FakeTelegram, runtime: Runtime
) -> None:
    filed = {}
    for name, target in targets(client, bot_api, runtime).items():
        result = run_conversation(PARITY, target)  # type: ignore[arg-type]
        problems = [(s.index, s.sent, s.reply, s.failures) for s in result.steps if s.failures]
        assert result.passed, f"{name}: {result.error or result.skipped or problems}"
        reference = next(
            s.got["filed_reference"] for s in result.steps if s.got.get("filed_reference")
        )
        with runtime.db.sessions() as session:
            request = service_requests.find(session, reference)
            assert request is not None and request.channel == (
                PARITY.channel if name == "rest" else name
            )
            filed[name] = (request.service_code, request.street, request.district, request.status)
    assert len(set(filed.values())) == 1, filed
    assert filed["sms"] == ("pothole", "Elm Street", "Old Town", "submitted")


def test_channel_targets_say_what_they_cannot_play(
    client: TestClient, bot_api: FakeTelegram, runtime: Runtime
) -> None:
    from datetime import timedelta

    from evaluation.qa.conversations import Unsupported

    for name, target in targets(client, bot_api, runtime).items():
        if name == "rest":
            continue
        with pytest.raises(Unsupported):
            target.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
        with pytest.raises(Unsupported):
            target.send({"channel": "test", "sender": "x", "dtmf": "1"})  # type: ignore[attr-defined]
