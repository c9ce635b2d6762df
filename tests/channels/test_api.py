"""The REST API: the contract over HTTP, bad input refused clearly, privacy of public status."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.runtime import Runtime
from channels.app import create_app


@pytest.fixture(scope="module")
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime=runtime)


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    """One web resident: a client with its own cookie jar, so its own conversation."""
    return TestClient(app)


def say(client: TestClient, sender: str, text: str, **extra: object) -> dict:
    """A message as older clients sent it (channel and sender in the body, now ignored)."""
    response = client.post(
        "/api/v1/messages", json={"channel": "web", "sender": sender, "text": text, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["knowledge_version"] >= 1


def test_not_ready_until_runtime_built() -> None:
    app = create_app()
    app.state.runtime = None
    with TestClient(app) as plain:  # no lifespan build: runtime stays None in this instant
        app.state.runtime = None
        assert plain.get("/healthz").status_code == 200
        response = plain.post(
            "/api/v1/messages", json={"channel": "web", "sender": "a", "text": "hi"}
        )
        assert response.status_code == 503


def test_message_round_trip(client: TestClient) -> None:
    body = say(client, uuid.uuid4().hex, "What is the emergency number?")
    assert body["intent"] == "ask_question"
    assert "911" in body["messages"][0]["text"]
    assert body["messages"][0]["source"]["url"].startswith("https://www.portalder.example/")


@pytest.mark.parametrize(
    "payload",
    [
        {"channel": "web", "sender": "a"},  # nothing in it
        {"channel": "web", "sender": "a", "text": "   \u0000\u0007 "},  # only control chars
        {"channel": "web", "sender": "a", "dtmf": "12ab"},  # not DTMF
        {"channel": "web", "sender": "a", "location": {"lat": 123, "lon": 0}},  # off the globe
    ],
)
def test_empty_and_malformed_messages_are_refused(client: TestClient, payload: dict) -> None:
    response = client.post("/api/v1/messages", json=payload)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_malformed_json_is_refused(client: TestClient) -> None:
    response = client.post(
        "/api/v1/messages", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_text_over_the_limit_says_the_limit(client: TestClient) -> None:
    response = client.post(
        "/api/v1/messages", json={"channel": "web", "sender": "a", "text": "a" * 4001}
    )
    assert response.status_code == 413
    assert "4000" in response.json()["detail"]


def test_huge_body_is_refused_before_parsing(client: TestClient) -> None:
    response = client.post(
        "/api/v1/messages",
        content=b"x" * 2_000_000,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413


def test_control_characters_are_stripped(client: TestClient) -> None:
    body = say(client, uuid.uuid4().hex, "hel\u0000lo\u202e")
    assert body["intent"] == "greet"


def test_repeated_message_id_gets_same_reply_and_files_once(
    client: TestClient, runtime: Runtime
) -> None:
    sender = uuid.uuid4().hex
    say(client, sender, "there is a deep pothole outside 12 Elm Street that burst my tyre")
    say(client, sender, "1")
    first = say(client, sender, "yes", message_id="retry-me-" + sender)
    again = say(client, sender, "yes", message_id="retry-me-" + sender)
    assert first == again
    assert first["filed_reference"]
    from sqlalchemy import func, select

    from bot.storage.models import ServiceRequest

    with runtime.db.sessions() as session:
        count = session.scalar(
            select(func.count()).where(ServiceRequest.reference == first["filed_reference"])
        )
    assert count == 1


def test_public_status_hides_personal_details(client: TestClient) -> None:
    sender = uuid.uuid4().hex
    say(client, sender, "water is gushing from a pipe outside 8 Harbour Road, please come")
    say(client, sender, "1")
    reference = say(client, sender, "yes")["filed_reference"]
    response = client.get(f"/api/v1/requests/{reference}")
    assert response.status_code == 200
    public = response.json()
    assert public["status"] == "submitted"
    assert public["district"] == "Harbourside"
    assert public["service_code"] == "water_leak"
    flat = str(public).lower()
    assert "harbour road" not in flat and "gushing" not in flat and sender not in flat
    assert set(public) == {
        "reference",
        "service_code",
        "service_name",
        "status",
        "district",
        "created_at",
        "updated_at",
    }


def test_unknown_reference_is_404(client: TestClient) -> None:
    assert client.get("/api/v1/requests/REQ-1999-000000").status_code == 404


def test_openapi_documents_the_contract(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/messages" in paths and "/api/v1/requests/{reference}" in paths
