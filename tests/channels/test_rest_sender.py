"""Who the REST API speaks for: the web session in the server's cookie, or an integration key.

The critical holes of issue 11: a body naming ``channel: sms`` and a resident's number read
and drove that resident's conversation; the reply cache answered another sender's message id.
"""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot import integrations
from bot.contract import InboundMessage
from bot.runtime import Runtime
from bot.storage.models import Conversation, ServiceRequest
from channels.app import create_app
from channels.rest_sender import COOKIE
from tests.channels.channel_helpers import WebResident, integration_key

ADDRESS_TEXT = "the street light outside 4 Oak Avenue has been dark for a week"


@pytest.fixture(scope="module")
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime=runtime)


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


def unfinished_report(resident: WebResident) -> None:
    """A report half made: the place and the problem are in the form, not filed yet."""
    reply = resident.say(ADDRESS_TEXT)
    assert "Oak Avenue" in str(reply) or reply["intent"] in ("report_problem", "service")


def test_a_body_naming_an_sms_resident_speaks_for_a_new_web_session(
    client: TestClient, runtime: Runtime
) -> None:
    number = "+1555" + str(uuid.uuid4().int)[:7]
    victim = runtime.assistant.handle(
        InboundMessage(channel="sms", sender=number, text=ADDRESS_TEXT)
    )
    assert victim.messages
    response = client.post(
        "/api/v1/messages", json={"channel": "sms", "sender": number, "text": "repeat"}
    )
    assert response.status_code == 200
    assert "Oak Avenue" not in response.text  # the sms resident's unfinished report
    assert response.headers["X-Hotline-Sender"].startswith("web-")
    assert number not in response.headers["X-Hotline-Sender"]
    cancel = client.post(
        "/api/v1/messages", json={"channel": "sms", "sender": number, "text": "cancel"}
    )
    assert cancel.status_code == 200
    again = runtime.assistant.handle(InboundMessage(channel="sms", sender=number, text="repeat"))
    assert again.text == victim.text  # the sms form is untouched: nothing was cancelled


def test_a_web_resident_cannot_reach_another_by_any_field(app: FastAPI, runtime: Runtime) -> None:
    alice, mallory = WebResident(TestClient(app)), WebResident(TestClient(app))
    unfinished_report(alice)
    alice_reply = alice.say("1", message_id="alice-secret-1")
    assert alice.sender and alice.sender != mallory.sender
    # Every field of the body names Alice; the cookie is Mallory's own (or none, or forged).
    body = {
        "channel": "web",
        "sender": alice.sender,
        "message_id": "alice-secret-1",
        "metadata": {"sender": alice.sender},
    }
    for text in ("repeat", "what is the status of my report", "yes"):
        reply = mallory.post("/api/v1/messages", {**body, "text": text})
        assert reply.status_code == 200
        assert "Oak Avenue" not in reply.text and reply.json() != alice_reply
        assert reply.headers["X-Hotline-Sender"] == mallory.sender
    forged = TestClient(app).post(
        "/api/v1/messages",
        json={**body, "text": "repeat"},
        headers={"Cookie": f"{COOKIE}={alice.sender}.{'0' * 32}"},
    )
    assert forged.status_code == 200 and "Oak Avenue" not in forged.text
    assert forged.headers["X-Hotline-Sender"] not in (alice.sender, mallory.sender)
    with runtime.db.sessions() as session:
        filed = session.scalars(
            select(ServiceRequest).where(ServiceRequest.reply_address == alice.sender)
        ).all()
    assert filed == []  # Mallory's "yes" confirmed nothing of Alice's
    assert "Oak Avenue" in alice.say("repeat")["messages"][0]["text"] or alice.say("repeat")


def test_a_cookie_keeps_one_conversation_and_says_how_it_is_kept(client: TestClient) -> None:
    first = client.post("/api/v1/messages", json={"text": "hello"})
    cookie = first.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/api/v1/" in cookie and "Secure" not in cookie  # plain http here
    second = client.post("/api/v1/messages", json={"text": "hello again"})
    assert second.headers["X-Hotline-Sender"] == first.headers["X-Hotline-Sender"]
    fresh = TestClient(client.app).post("/api/v1/messages", json={"text": "hello"})
    assert fresh.headers["X-Hotline-Sender"] != first.headers["X-Hotline-Sender"]


def test_the_cookie_is_secure_over_https(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime=runtime), base_url="https://testserver")
    cookie = client.post("/api/v1/messages", json={"text": "hello"}).headers["set-cookie"]
    assert "Secure" in cookie and "SameSite=none" in cookie and "HttpOnly" in cookie


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_cookie_routes_take_json_only(client: TestClient, content_type: str | None) -> None:
    """Another site's form or no-cors fetch cannot send JSON, so it cannot post as a resident."""
    headers = {"Content-Type": content_type} if content_type else {}
    for path in ("/api/v1/messages", "/api/v1/notices"):
        request = client.build_request("POST", path, content=b'{"text": "cancel"}', headers=headers)
        if content_type is None:
            request.headers.pop("Content-Type", None)
        response = client.send(request)
        assert response.status_code in (415, 422), path  # FastAPI refuses before the route
        assert "set-cookie" not in response.headers


def test_the_reply_cache_is_keyed_by_sender(runtime: Runtime) -> None:
    """Telegram's ids are sequential: another sender's id neither reads nor plants a reply."""
    chat, other = str(10**9 + uuid.uuid4().int % 10**9), str(uuid.uuid4().int % 10**9)
    update = uuid.uuid4().int % 10**9
    real = runtime.assistant.handle(
        InboundMessage(
            channel="telegram", sender=chat, text=ADDRESS_TEXT, message_id=f"tg-{update}"
        )
    )
    stolen = runtime.assistant.handle(
        InboundMessage(channel="telegram", sender=other, text="hi", message_id=f"tg-{update}")
    )
    assert stolen.intent == "greet" and "Oak Avenue" not in stolen.text
    planted = f"tg-{update + 7}"
    runtime.assistant.handle(
        InboundMessage(channel="telegram", sender=other, text="thank you", message_id=planted)
    )
    answered = runtime.assistant.handle(
        InboundMessage(
            channel="telegram",
            sender=chat,
            text="what is the emergency number?",
            message_id=planted,
        )
    )
    assert "911" in answered.text  # its own question was handled, not the planted reply
    retried = runtime.assistant.handle(
        InboundMessage(
            channel="telegram", sender=chat, text=ADDRESS_TEXT, message_id=f"tg-{update}"
        )
    )
    assert retried == real  # a real retry still gets the same reply


# -- integration keys --------------------------------------------------------------------------
def keyed(client: TestClient, key: str, **body: object) -> object:
    return client.post("/api/v1/messages", json=body, headers={"Authorization": f"Bearer {key}"})


def test_a_key_speaks_for_its_channels_only(client: TestClient, runtime: Runtime) -> None:
    key = integration_key(runtime, "app")
    sender = f"app-user-{uuid.uuid4().hex[:8]}"
    ok = keyed(client, key, channel="app", sender=sender, text="hello")
    assert ok.status_code == 200 and ok.json()["intent"] == "greet"
    assert "set-cookie" not in ok.headers  # an integration holds no web session
    implied = keyed(client, key, sender=sender, text="hello")  # its one channel
    assert implied.status_code == 200
    for channel in ("sms", "telegram", "voice", "web"):
        refused = keyed(client, key, channel=channel, sender="+15551230000", text="repeat")
        assert refused.status_code == 403, channel
        assert channel in refused.json()["detail"]
    assert keyed(client, key, channel="app", text="hello").status_code == 422  # no sender
    with runtime.db.sessions() as session:
        keys = {c.channel for c in session.scalars(select(Conversation)).all()}
    assert "app" in keys


def test_a_key_for_two_channels_must_name_one(client: TestClient, runtime: Runtime) -> None:
    key = integration_key(runtime, "test", "voice")
    assert keyed(client, key, sender="qa-1", text="hello").status_code == 422
    assert keyed(client, key, channel="voice", sender="qa-1", text="hello").status_code == 200


@pytest.mark.parametrize(
    "authorization",
    ["Bearer hik_not-a-key", "Bearer hls_a-staff-token", "Basic dXNlcjpwYXNz", "Bearer "],
)
def test_a_bad_key_is_401(client: TestClient, authorization: str) -> None:
    response = client.post(
        "/api/v1/messages",
        json={"channel": "sms", "sender": "+15551230000", "text": "repeat"},
        headers={"Authorization": authorization},
    )
    assert response.status_code == 401


def test_keys_refuse_the_web_channel_and_bad_names(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        for channels in (["web"], ["app", "web"], [], ["Bad Name"], ["x" * 33]):
            with pytest.raises(integrations.IntegrationKeyError):
                integrations.create_key(session, f"k-{uuid.uuid4().hex}", channels, "tests")


def test_a_typed_phone_number_is_for_a_call_back_once_confirmed(
    app: FastAPI, runtime: Runtime
) -> None:
    """A number typed into a report is shown back, kept only once the resident says yes, and
    never becomes an address the city texts: notices stay on the resident's own channel."""
    from bot import service_requests
    from bot.storage.models import Notice

    typed = "+1 415 555 01" + str(uuid.uuid4().int)[:2]
    digits = re.sub(r"\D", "", typed)

    def fill(resident: WebResident) -> dict:
        resident.say("there is a deep pothole outside 12 Elm Street that burst my tyre")
        asked = resident.say("Call me")
        assert "phone number" in asked["messages"][0]["text"].lower()
        summary = resident.say(typed)
        assert digits[-4:] in summary["messages"][0]["text"]  # shown back to be confirmed
        return summary

    changed_mind = WebResident(TestClient(app))
    fill(changed_mind)
    changed_mind.say("cancel")
    with runtime.db.sessions() as session:
        assert (
            session.scalars(
                select(ServiceRequest).where(
                    ServiceRequest.contact_phone_hash == runtime.hasher(typed)
                )
            ).all()
            == []
        )
    resident = WebResident(TestClient(app))
    fill(resident)
    reference = resident.say("yes")["filed_reference"]
    assert reference
    with runtime.db.transaction() as session:
        request = service_requests.find(session, reference)
        assert request is not None and request.fields["contact_phone"]  # for the call back
        assert (request.channel, request.reply_address) == ("web", resident.sender)
        notice = service_requests.change_status(session, request, "acknowledged", "staff")
        assert notice is not None and (notice.channel, notice.address) == ("web", resident.sender)
    with runtime.db.sessions() as session:
        addresses = [n.address or "" for n in session.scalars(select(Notice)).all()]
    assert not any(digits[-7:] in re.sub(r"\D", "", a) for a in addresses)
