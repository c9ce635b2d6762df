"""Status pushed by a webhook back office: signed, checked, and the resident is told."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select, update

from bot import service_requests
from bot.backoffice import webhook
from bot.runtime import Runtime
from bot.storage.models import Notice, OutboxMessage, ServiceRequest
from channels.app import create_app

SECRET = b"shared-with-the-back-office"


@pytest.fixture(scope="module")
def client(runtime: Runtime) -> TestClient:
    settings = runtime.settings.model_copy(update={"webhook_secret": SecretStr(SECRET.decode())})
    return TestClient(create_app(runtime=dataclasses.replace(runtime, settings=settings)))


def sent_to_webhook(runtime: Runtime) -> str:
    with runtime.db.transaction() as session:
        request = service_requests.file_request(
            session,
            ServiceRequest(
                service_code="graffiti",
                description="tag on the bridge",
                address="Station Road",
                channel="web",
                reply_address="r-1",
            ),
            "test",
        )
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.request_id == request.id)
            .values(status="delivered", delivered_to="webhook")
        )
        return request.reference or ""


def push(client: TestClient, body: dict | bytes, secret: bytes = SECRET, age: int = 0):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(int(time.time()) - age)
    return client.post(
        "/webhooks/backoffice/status",
        content=raw,
        headers={
            webhook.TIMESTAMP_HEADER: stamp,
            webhook.SIGNATURE_HEADER: webhook.sign(secret, stamp, raw),
            "Content-Type": "application/json",
        },
    )


def test_pushed_status_changes_the_request_and_leaves_a_notice(
    client: TestClient, runtime: Runtime
) -> None:
    reference = sent_to_webhook(runtime)
    answer = push(client, {"reference": reference, "status": "closed", "note": "Cleaned."})
    assert answer.status_code == 200 and answer.json() == {"changed": True}
    assert push(
        client, {"reference": reference, "status": "closed", "note": "Cleaned."}
    ).json() == {"changed": False}
    with runtime.db.sessions() as session:
        request = service_requests.find(session, reference)
        assert request is not None and request.status == "closed"
        notices = session.scalars(select(Notice).where(Notice.request_id == request.id)).all()
    assert [n.address for n in notices] == ["r-1"] and "Cleaned." in notices[0].text


@pytest.mark.parametrize(("secret", "age", "status"), [(b"guessed", 0, 401), (SECRET, 3600, 401)])
def test_forged_or_replayed_pushes_are_refused(
    client: TestClient, runtime: Runtime, secret: bytes, age: int, status: int
) -> None:
    reference = sent_to_webhook(runtime)
    answer = push(client, {"reference": reference, "status": "closed"}, secret, age)
    assert answer.status_code == status
    with runtime.db.sessions() as session:
        assert service_requests.find(session, reference).status == "submitted"


def test_bad_pushes_get_clear_errors(client: TestClient, runtime: Runtime) -> None:
    reference = sent_to_webhook(runtime)
    assert push(client, {"reference": reference, "status": "exploded"}).status_code == 422
    assert push(client, b"{not json").status_code == 422
    assert push(client, {"reference": "REQ-1999-000001", "status": "closed"}).status_code == 404
    unsigned = client.post("/webhooks/backoffice/status", json={"reference": reference})
    assert unsigned.status_code == 401


def test_route_is_off_without_a_secret(runtime: Runtime) -> None:
    plain = TestClient(create_app(runtime=runtime))
    assert push(plain, {"reference": "REQ-2026-000001", "status": "closed"}).status_code == 404
