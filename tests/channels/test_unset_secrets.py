"""An empty secret is an unset secret: each channel refuses its webhook, the start-up log says so.

Before, ``HOTLINE_TELEGRAM_SECRET_TOKEN=`` accepted an update with an empty header, and an
empty Twilio or back-office secret accepted requests signed with the empty key.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot.backoffice import webhook
from bot.runtime import Runtime
from bot.settings import Settings
from channels.app import create_app
from evaluation.qa.provider_fakes import twilio_signature, twilio_sms_form
from tests.channels.channel_helpers import TELEGRAM_TOKEN, TWILIO_SID

BLANK = {
    "HOTLINE_TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
    "HOTLINE_TELEGRAM_SECRET_TOKEN": "",
    "HOTLINE_TWILIO_ACCOUNT_SID": TWILIO_SID,
    "HOTLINE_TWILIO_AUTH_TOKEN": "",
    "HOTLINE_WEBHOOK_URL": "http://127.0.0.1:9/backoffice",
    "HOTLINE_WEBHOOK_SECRET": " ",
    "HOTLINE_OPEN311_API_KEYS": "",
}
FIELDS = (
    "telegram_bot_token",
    "telegram_secret_token",
    "twilio_account_sid",
    "twilio_auth_token",
    "webhook_url",
    "webhook_secret",
    "open311_api_keys",
)


def from_environment(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in BLANK.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def test_blank_variables_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = from_environment(monkeypatch)
    assert settings.telegram_secret_token is None
    assert settings.twilio_auth_token is None
    assert settings.webhook_secret is None
    assert settings.open311_api_keys is None
    assert settings.telegram_bot_token is not None  # what is set stays set


@pytest.fixture(params=["environment", "empty SecretStr"])
def blank_app(request, runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    """An app whose secrets were given empty: from the environment, or as SecretStr("")."""
    if request.param == "environment":
        env = from_environment(monkeypatch)
        update = {name: getattr(env, name) for name in FIELDS}
    else:
        update = {name: SecretStr("") for name in FIELDS if name.endswith(("token", "secret"))}
        update |= {
            "telegram_bot_token": SecretStr(TELEGRAM_TOKEN),
            "twilio_account_sid": TWILIO_SID,
        }
    settings = runtime.settings.model_copy(update={**update, "notice_interval_seconds": 0})
    return create_app(runtime=dataclasses.replace(runtime, settings=settings))


def test_telegram_refuses_every_update(blank_app) -> None:
    client = TestClient(blank_app)
    update = {
        "update_id": 1,
        "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "hi"},
    }
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": ""}):
        response = client.post("/webhooks/telegram", json=update, headers=headers)
        assert response.status_code == 403
        assert "HOTLINE_TELEGRAM_SECRET_TOKEN is not set" in response.text


def test_twilio_refuses_requests_signed_with_the_empty_key(blank_app) -> None:
    client = TestClient(blank_app)
    form = twilio_sms_form("+15551230000", "hello", TWILIO_SID)
    for path in ("/webhooks/twilio/sms", "/webhooks/twilio/voice", "/webhooks/twilio/sms/status"):
        signature = twilio_signature("", f"http://testserver{path}", form)
        response = client.post(path, data=form, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 404, path


def test_the_back_office_webhook_refuses_the_empty_key(blank_app) -> None:
    client = TestClient(blank_app)
    body = json.dumps({}).encode()
    stamp = str(int(time.time()))
    response = client.post(
        "/webhooks/backoffice/status",
        content=body,
        headers={
            webhook.TIMESTAMP_HEADER: stamp,
            webhook.SIGNATURE_HEADER: webhook.sign(b"", stamp, body),
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 404


def test_the_start_up_log_says_what_is_refused(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env = from_environment(monkeypatch)
    update = {name: getattr(env, name) for name in FIELDS} | {"notice_interval_seconds": 0}
    settings = runtime.settings.model_copy(update={**update, "dispatch_in_app": False})
    app = create_app(runtime=dataclasses.replace(runtime, settings=settings))
    with caplog.at_level(logging.INFO, logger="channels.app"), TestClient(app):
        pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("HOTLINE_TELEGRAM_SECRET_TOKEN is not set" in m for m in warnings)
    assert any("HOTLINE_TWILIO_AUTH_TOKEN is not set" in m for m in warnings)
    assert any("HOTLINE_WEBHOOK_SECRET is not set" in m for m in warnings)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "HOTLINE_OPEN311_API_KEYS is not set" in said
