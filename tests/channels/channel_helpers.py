"""Shared set-up for the residents' channel tests: configured apps and a real HTTP server."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from bot import integrations
from bot.runtime import Runtime
from bot.settings import Settings
from channels import live
from channels.app import SERVER_OPTIONS, create_app
from evaluation.benchmarks.server import free_port

TELEGRAM_TOKEN = "123456789:TEST-token-for-the-fake-bot-api"
TELEGRAM_SECRET = "test-secret-token_0123456789"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "test-auth-token-0123456789abcdef"
TWILIO_FROM = "+15005550006"
_SECRETS = {"telegram_bot_token", "telegram_secret_token", "twilio_auth_token", "secret_key"}


class WebResident:
    """One browser on the REST API: its own session cookie, whatever client carries it.

    The Cookie header is set on every request, so residents sharing one client (a staff
    console test's TestClient) never share its cookie jar.
    """

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}
        self.sender: str | None = None  # what the server calls us, once it has answered

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items()) or "-"
        response = self.client.post(path, json=body or {}, headers={"Cookie": cookie})
        self.cookies.update(dict(response.cookies))
        self.sender = response.headers.get("X-Hotline-Sender", self.sender)
        return response

    def say(self, text: str, **extra: Any) -> dict[str, Any]:
        response = self.post("/api/v1/messages", {"text": text, **extra})
        assert response.status_code == 200, response.text
        return response.json()

    def notices(self) -> list[dict[str, Any]]:
        response = self.post("/api/v1/notices")
        assert response.status_code == 200, response.text
        return response.json()


def integration_key(runtime: Runtime, *channels: str) -> str:
    """A live integration key for ``channels``, as an admin would make it."""
    with runtime.db.transaction() as session:
        _, key = integrations.create_key(session, f"test {uuid.uuid4().hex[:8]}", channels, "tests")
    return key


def channel_settings(runtime: Runtime, **overrides: Any) -> Settings:
    """The session runtime's settings with channel credentials (or other changes) added."""
    values = {
        k: SecretStr(v) if k in _SECRETS and isinstance(v, str) else v for k, v in overrides.items()
    }
    values.setdefault("notice_interval_seconds", 0)
    return runtime.settings.model_copy(update=values)


def twilio_settings(runtime: Runtime, api_url: str) -> Settings:
    """Settings with SMS configured against a fake of Twilio's REST API at ``api_url``."""
    return channel_settings(
        runtime,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
        twilio_from_number=TWILIO_FROM,
        twilio_api_url=api_url,
    )


def app_for(runtime: Runtime, **overrides: Any) -> FastAPI:
    """An app over the shared runtime whose settings carry ``overrides``."""
    settings = channel_settings(runtime, **overrides)
    return create_app(runtime=dataclasses.replace(runtime, settings=settings))


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run the app under uvicorn on a free loopback port for as long as the block lasts."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **SERVER_OPTIONS)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        live.streams(app).close()  # open event streams end, or uvicorn would wait for them
        server.should_exit = True
        thread.join(timeout=10)


# Debian's chromium, headless, for the web pages (resident chat, staff console).
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]
