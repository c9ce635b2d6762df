"""Body limits on the stream: chunked uploads and many-field forms are refused while they
arrive, against the real app under uvicorn, before any form or JSON is parsed or any
signature checked; and hostile JSON gets a 4xx, never a 500."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from bot.runtime import Runtime
from channels.request_limits import MAX_FORM_FIELDS, strict_json
from tests.channels.channel_helpers import (
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    TWILIO_SID,
    TWILIO_TOKEN,
    app_for,
    integration_key,
    serve,
)

CHUNK = 64 * 1024
HUGE = 200 * 1024 * 1024
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
# (route, content type, headers that get it past its first check, what it answers)
ROUTES = [
    ("/api/v1/messages", JSON, {}, {413}),
    ("/api/v1/notices", JSON, {}, {200, 413}),  # it reads no body at all
    ("/webhooks/telegram", JSON, {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}, {413}),
    ("/webhooks/twilio/sms", FORM, {"X-Twilio-Signature": "unchecked"}, {413}),
    ("/webhooks/twilio/voice", FORM, {"X-Twilio-Signature": "unchecked"}, {413}),
    ("/open311/v2/requests.json", FORM, {}, {413}),
    ("/api/v1/staff/articles", JSON, {}, {401, 413}),  # the token is checked first
]


@pytest.fixture(scope="module")
def server(runtime: Runtime) -> Iterator[str]:
    app = app_for(
        runtime,
        telegram_bot_token=TELEGRAM_TOKEN,
        telegram_secret_token=TELEGRAM_SECRET,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
    )
    with serve(app) as url:
        yield url


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


def _status(sock: socket.socket) -> int:
    data = b""
    sock.settimeout(30)
    while b"\r\n" not in data:
        piece = sock.recv(4096)
        if not piece:
            break
        data += piece
    return int(data.split(b" ", 2)[1])


def chunked_upload(
    url: str, path: str, content_type: str, headers: dict[str, str], total: int = HUGE
) -> tuple[int, int]:
    """POST ``total`` bytes with Transfer-Encoding: chunked; stop once the server answers.

    Returns the status and how many bytes were sent before the answer came.
    """
    sock = _connect(url)
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n"
        f"Transfer-Encoding: chunked\r\n{extra}\r\n"
    )
    sock.sendall(head.encode())
    sent, piece = 0, b"a" * CHUNK
    try:
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sent += len(piece)
        else:
            sock.sendall(b"0\r\n\r\n")
        return _status(sock), sent
    except (BrokenPipeError, ConnectionResetError):  # closed after answering: read the answer
        return _status(sock), sent
    finally:
        sock.close()


@pytest.mark.parametrize(("path", "content_type", "headers", "answers"), ROUTES)
def test_a_chunked_upload_is_refused_while_it_arrives(
    server: str, path: str, content_type: str, headers: dict[str, str], answers: set[int]
) -> None:
    started = time.monotonic()
    status, sent = chunked_upload(server, path, content_type, headers)
    assert status in answers
    assert sent < 20 * 1024 * 1024, f"{sent} bytes were read before the refusal"
    assert time.monotonic() - started < 60


@pytest.mark.parametrize("path", ["/webhooks/twilio/sms", "/open311/v2/requests.json"])
def test_many_megabyte_form_fields_are_refused_before_the_signature(server: str, path: str) -> None:
    status, sent = chunked_upload(server, path, FORM, {"X-Twilio-Signature": "unchecked"})
    assert status == 413 and sent < 20 * 1024 * 1024


@pytest.mark.parametrize(
    "path", ["/webhooks/twilio/sms", "/open311/v2/requests.json", "/staff/login"]
)
def test_many_small_form_fields_are_refused(server: str, path: str) -> None:
    import httpx

    fields = "&".join(f"f{i}=1" for i in range(MAX_FORM_FIELDS * 5))
    response = httpx.post(
        server + path,
        content=fields.encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": "forged",
        },
        timeout=30,
    )
    assert response.status_code == 413  # not 403: the form was never parsed nor checked
    assert "fields" in response.text  # in the route's own error format (Open311's list)


def test_many_multipart_parts_are_refused(server: str) -> None:
    import httpx

    files = {f"f{i}": (None, "1") for i in range(MAX_FORM_FIELDS * 2)}
    response = httpx.post(f"{server}/open311/v2/requests.json", files=files, timeout=30)
    assert response.status_code == 413


def test_a_declared_length_over_the_limit_is_refused_unread(server: str) -> None:
    sock = _connect(server)
    sock.sendall(
        b"POST /api/v1/messages HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Content-Length: 209715200\r\n\r\n"
    )
    try:
        assert _status(sock) == 413
    finally:
        sock.close()


def test_a_normal_chunked_message_still_works(server: str) -> None:
    import httpx

    def body() -> Iterator[bytes]:
        yield b'{"text": '
        yield b'"hello"}'

    response = httpx.post(
        f"{server}/api/v1/messages",
        content=body(),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 200 and response.json()["intent"] == "greet"


# -- hostile JSON ------------------------------------------------------------------------------
DEEP = ("[" * 5000 + "]" * 5000).encode()
DEEP_OBJECT = ('{"a":' * 5000 + "1" + "}" * 5000).encode()


@pytest.fixture(scope="module")
def client(runtime: Runtime) -> TestClient:
    app = app_for(runtime, telegram_bot_token=TELEGRAM_TOKEN, telegram_secret_token=TELEGRAM_SECRET)
    return TestClient(app, raise_server_exceptions=False)


HOSTILE_MESSAGES = [
    DEEP,
    DEEP_OBJECT,
    b'{"text": "\\ud800"}',
    b'{"text": "hi", "message_id": "\\ud800"}',
    b'{"text": "hi", "language": "\\udfff"}',
    b'{"location": {"lat": NaN, "lon": 0}}',
    b'{"location": {"lat": 1, "lon": Infinity}}',
    b'{"location": {"lat": 1, "lon": 2, "label": "\\ud800"}}',
    b'{"text": "hi", "metadata": {"x": NaN}}',
    b'{"text": 1e999}',
    b'{"text": "/details:99999999999999999999"}',
    b'{"text": "/article:99999999999999999999"}',
    b'{"text": "/details:abc"}',
    b'{"text": "/details:\\u0661\\u0662"}',
    b'{"text": "/request:99999999999999999999"}',
    b'{"text": "hi", "message_id": 99999999999999999999}',
]


@pytest.mark.parametrize("body", HOSTILE_MESSAGES)
def test_hostile_messages_get_a_clear_answer(client: TestClient, body: bytes) -> None:
    """As older clients send them, channel and sender included (and ignored)."""
    if body.startswith(b'{"'):
        body = body.replace(b'{"', b'{"channel": "web", "sender": "hostile-1", "', 1)
    response = client.post(
        "/api/v1/messages", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code < 500, response.text
    assert response.status_code in (200, 400, 413, 422)
    json.loads(response.text)  # always a JSON answer


@pytest.mark.parametrize("body", HOSTILE_MESSAGES)
def test_hostile_messages_from_an_integration(
    client: TestClient, runtime: Runtime, body: bytes
) -> None:
    key = integration_key(runtime, "app")
    data = body.replace(b'{"', b'{"sender": "a-1", "', 1) if body.startswith(b'{"') else body
    response = client.post(
        "/api/v1/messages",
        content=data,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    assert response.status_code < 500, response.text


@pytest.mark.parametrize(
    "body",
    [
        DEEP,
        DEEP_OBJECT,
        b'{"update_id": 5, "message": {"message_id": 1, "date": 0, "chat": {"id": 7, '
        b'"type": "private"}, "location": {"latitude": NaN, "longitude": 0}}}',
        b'{"update_id": 5, "x": Infinity}',
        b"\xff\xfe",
    ],
)
def test_hostile_telegram_updates_are_400(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/webhooks/telegram",
        content=body,
        headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
    )
    assert response.status_code == 400, response.text


def test_strict_json_refuses_what_no_client_should_send() -> None:
    for text in (b"NaN", b"[-Infinity]", DEEP, b'["\\ud800"]', b'{"\\udc00": 1}', b"\xc3"):
        with pytest.raises(ValueError):
            strict_json(text)
    assert strict_json(b'{"a": ["\\ud83d\\ude00", 1.5]}') == {"a": ["\U0001f600", 1.5]}
