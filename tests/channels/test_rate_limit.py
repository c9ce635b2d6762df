"""Rate limits: per sender, per channel, a polite word once, 429 with Retry-After over REST."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from bot.runtime import Runtime
from channels.rate_limit import SLOW_DOWN, RateLimiter
from tests.channels.channel_helpers import WebResident, app_for, integration_key


def test_sender_limit_refuses_then_tells_once() -> None:
    limiter = RateLimiter(per_sender="3/minute", per_channel="100/minute")
    assert [limiter.hit("sms", "+15551234567").allowed for _ in range(3)] == [True] * 3
    first, second = limiter.hit("sms", "+15551234567"), limiter.hit("sms", "+15551234567")
    assert not first.allowed and first.tell and 1 <= first.retry_after <= 60
    assert not second.allowed and not second.tell
    assert limiter.hit("sms", "+15557654321").allowed  # another sender is not affected
    assert limiter.hit("telegram", "+15551234567").allowed  # nor the same id elsewhere


def test_channel_limit_covers_every_sender() -> None:
    limiter = RateLimiter(per_sender="100/minute", per_channel="5/minute")
    assert all(limiter.hit("telegram", f"chat-{i}").allowed for i in range(5))
    refused = limiter.hit("telegram", "chat-new")
    assert not refused.allowed and refused.tell
    assert limiter.hit("sms", "chat-new").allowed


def test_rest_api_answers_429_with_retry_after(runtime: Runtime) -> None:
    client = TestClient(app_for(runtime, rate_limit_sender="2/minute"))
    resident, other = WebResident(client), WebResident(client)
    for _ in range(2):
        ok = resident.post("/api/v1/messages", {"text": "hi"})
        assert ok.status_code == 200 and ok.json()["intent"] == "greet"
    refused = resident.post("/api/v1/messages", {"text": "hi"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["detail"] == SLOW_DOWN
    # Naming another sender in the body changes nothing: the session is what is counted.
    renamed = resident.post("/api/v1/messages", {"sender": uuid.uuid4().hex, "text": "hi"})
    assert renamed.status_code == 429
    assert other.post("/api/v1/messages", {"text": "hi"}).status_code == 200


def test_an_integration_is_counted_per_sender_it_names(runtime: Runtime) -> None:
    client = TestClient(app_for(runtime, rate_limit_sender="1/minute"))
    key = {"Authorization": f"Bearer {integration_key(runtime, 'app')}"}
    body = {"channel": "app", "sender": uuid.uuid4().hex, "text": "hi"}
    assert client.post("/api/v1/messages", json=body, headers=key).status_code == 200
    assert client.post("/api/v1/messages", json=body, headers=key).status_code == 429
    body["sender"] = uuid.uuid4().hex
    assert client.post("/api/v1/messages", json=body, headers=key).status_code == 200


def test_bad_bodies_are_refused_clearly(runtime: Runtime) -> None:
    client = TestClient(app_for(runtime, rate_limit_sender="1/minute"))
    for _ in range(3):  # unreadable bodies are not counted, and still get a clear 422
        response = client.post(
            "/api/v1/messages", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
    huge = client.post(
        "/api/v1/messages", content=b"x" * 2_000_000, headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413
    assert client.get("/healthz").status_code == 200  # other routes are not limited here
