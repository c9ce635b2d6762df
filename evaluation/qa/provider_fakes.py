"""Local stand-ins for what lies outside this machine: Telegram's Bot API and Twilio's REST API.

Each is a real HTTP server on a loopback port that answers as the provider documents and
records every call, so tests (and ``hotline test --channel``) can assert on exactly what our
server sent. Also here: builders for real Telegram ``Update`` JSON and signed Twilio forms.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from twilio.request_validator import RequestValidator


class _Server:
    """A threading HTTP server on 127.0.0.1 with a free port, stopped by ``close``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: Any) -> None:  # keep test output quiet
        pass

    @property
    def fake(self) -> Any:
        return self.server.fake  # type: ignore[attr-defined]

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _form(self) -> dict[str, str]:
        raw = self._body()
        kind = self.headers.get("Content-Type", "")
        if kind.startswith("application/json"):
            data = json.loads(raw or b"{}")
            return {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
        if kind.startswith("multipart/"):
            raise ValueError("multipart uploads are not faked")
        return {k: v[-1] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}

    def _send(self, status: int, payload: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


# -- Telegram ------------------------------------------------------------------------------
@dataclass
class BotCall:
    method: str
    params: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def buttons(self) -> list[dict[str, str]]:
        markup = self.params.get("reply_markup") or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]


class FakeTelegram(_Server):
    """Telegram's Bot API (``/bot<token>/<method>``, files at ``/file/bot<token>/<path>``)."""

    def __init__(self, token: str, port: int = 0) -> None:
        self.token = token
        self.calls: list[BotCall] = []
        self.files: dict[str, bytes] = {}
        self.failures: dict[str, tuple[int, str]] = {}  # method -> (error_code, description)
        # method -> one entry per coming call: None answers, (code, description) fails that call
        self.script: dict[str, list[tuple[int, str] | None]] = {}
        self.updates: list[dict[str, Any]] = []  # served by getUpdates (polling mode)
        self._message_ids = itertools.count(1000)
        self._lock = threading.Lock()
        self.me = {
            "id": 7000000001,
            "is_bot": True,
            "first_name": "Port Alder helpline",
            "username": "portalder_test_bot",
        }
        super().__init__(_TelegramHandler, port)

    def sent(self, chat_id: int | None = None) -> list[BotCall]:
        """sendMessage calls, to one chat if given, in the order they came."""
        with self._lock:
            calls = list(self.calls)
        return [
            c
            for c in calls
            if c.method == "sendMessage" and (chat_id is None or c.chat_id == chat_id)
        ]

    def called(self, method: str) -> list[BotCall]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def add_file(self, data: bytes) -> str:
        """Make a file downloadable (a voice note); returns its file_id."""
        file_id = "f" + uuid.uuid4().hex
        self.files[file_id] = data
        return file_id

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.calls.append(BotCall(method, params))
            failure = self.failures.get(method)
            if self.script.get(method):
                failure = self.script[method].pop(0) or failure
        if failure is not None:
            code, description = failure
            return code, {"ok": False, "error_code": code, "description": description}
        if method == "getMe":
            return 200, {"ok": True, "result": self.me}
        if method == "sendMessage":
            chat = int(params["chat_id"])
            result = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private" if chat > 0 else "group"},
                "from": self.me,
                "text": params.get("text", ""),
            }
            return 200, {"ok": True, "result": result}
        if method == "getFile":
            file_id = str(params.get("file_id"))
            if file_id not in self.files:
                return 400, {
                    "ok": False,
                    "error_code": 400,
                    "description": "Bad Request: invalid file_id",
                }
            result = {
                "file_id": file_id,
                "file_unique_id": file_id[:16],
                "file_size": len(self.files[file_id]),
                "file_path": f"voice/{file_id}.oga",
            }
            return 200, {"ok": True, "result": result}
        if method in ("answerCallbackQuery", "setWebhook", "deleteWebhook", "setMyCommands"):
            return 200, {"ok": True, "result": True}
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            with self._lock:
                pending = [u for u in self.updates if u["update_id"] >= offset]
            if not pending:
                time.sleep(0.05)  # a short long-poll
            return 200, {"ok": True, "result": pending}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}


class _TelegramHandler(_Handler):
    def do_POST(self) -> None:
        fake: FakeTelegram = self.fake
        prefix = f"/bot{fake.token}/"
        if not self.path.startswith(prefix):
            self._send(401, b'{"ok":false,"error_code":401,"description":"Unauthorized"}')
            return
        params: dict[str, Any] = self._form()
        for key in ("reply_markup", "link_preview_options", "allowed_updates"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        status, payload = fake.answer(self.path[len(prefix) :].split("?")[0], params)
        self._send(status, json.dumps(payload).encode())

    def do_GET(self) -> None:
        fake: FakeTelegram = self.fake
        prefix = f"/file/bot{fake.token}/voice/"
        path = unquote(urlparse(self.path).path)
        file_id = path[len(prefix) :].removesuffix(".oga") if path.startswith(prefix) else ""
        if file_id not in fake.files:
            self._send(404, b"not found", "text/plain")
            return
        self._send(200, fake.files[file_id], "audio/ogg")


_update_ids = itertools.count(int(time.time()) % 1_000_000 * 100)


def next_update_id() -> int:
    return next(_update_ids)


def _user(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "is_bot": False, "first_name": "Resident", "language_code": "en"}


def message_update(chat_id: int, update_id: int | None = None, **content: Any) -> dict[str, Any]:
    """A private-chat ``message`` Update, as Telegram posts it to a webhook."""
    message = {
        "message_id": next(_update_ids) % 1_000_000,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Resident"},
        "from": _user(chat_id),
        **content,
    }
    return {"update_id": update_id or next_update_id(), "message": message}


def text_update(chat_id: int, text: str, update_id: int | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"text": text}
    if text.startswith("/"):
        command = text.split()[0]
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return message_update(chat_id, update_id, **content)


def location_update(chat_id: int, lat: float, lon: float) -> dict[str, Any]:
    return message_update(chat_id, location={"latitude": lat, "longitude": lon})


def voice_update(chat_id: int, file_id: str, duration: int, size: int) -> dict[str, Any]:
    voice = {
        "file_id": file_id,
        "file_unique_id": file_id[:16],
        "duration": duration,
        "mime_type": "audio/ogg",
        "file_size": size,
    }
    return message_update(chat_id, voice=voice)


def callback_update(chat_id: int, data: str, message_text: str = "") -> dict[str, Any]:
    """A tap on an inline keyboard button of a message the bot sent."""
    return {
        "update_id": next_update_id(),
        "callback_query": {
            "id": uuid.uuid4().hex[:16],
            "from": _user(chat_id),
            "chat_instance": str(chat_id),
            "data": data,
            "message": {
                "message_id": next(_update_ids) % 1_000_000,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "Resident"},
                "from": {"id": 7000000001, "is_bot": True, "first_name": "Port Alder helpline"},
                "text": message_text or "…",
            },
        },
    }


# -- Twilio --------------------------------------------------------------------------------
@dataclass
class FakeTwilioState:
    messages: list[dict[str, str]] = field(default_factory=list)
    refuse: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # to -> status, code, msg


class FakeTwilio(_Server):
    """Twilio's REST API for Messages: ``POST /2010-04-01/Accounts/{sid}/Messages.json``."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.state = FakeTwilioState()
        self._lock = threading.Lock()
        super().__init__(_TwilioHandler)

    @property
    def messages(self) -> list[dict[str, str]]:
        with self._lock:
            return list(self.state.messages)

    def refuse(self, to: str, status: int, code: int, message: str) -> None:
        """Answer messages to this number with a Twilio error (e.g. 400, 21211)."""
        self.state.refuse[to] = (status, code, message)


class _TwilioHandler(_Handler):
    def do_POST(self) -> None:
        fake: FakeTwilio = self.fake
        expected = base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {expected}":
            self._error(401, 20003, "Authenticate")
            return
        if urlparse(self.path).path != f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json":
            self._error(404, 20404, "The requested resource was not found")
            return
        form = self._form()
        to = form.get("To", "")
        if not to or not (form.get("Body") or form.get("MediaUrl")):
            self._error(400, 21602, "Message body is required.")
            return
        if to in fake.state.refuse:
            self._error(*fake.state.refuse[to])
            return
        sid = "SM" + uuid.uuid4().hex
        with fake._lock:
            fake.state.messages.append({**form, "Sid": sid})
        now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        result = {
            "sid": sid,
            "account_sid": fake.account_sid,
            "to": to,
            "from": form.get("From"),
            "body": form.get("Body"),
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "date_created": now,
            "date_updated": now,
            "uri": f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{sid}.json",
        }
        self._send(201, json.dumps(result).encode())

    def _error(self, status: int, code: int, message: str) -> None:
        payload = {"code": code, "message": message, "status": status, "more_info": ""}
        self._send(status, json.dumps(payload).encode())


def twilio_sms_form(
    from_number: str,
    body: str,
    account_sid: str,
    to_number: str = "+15005550006",
    message_sid: str | None = None,
) -> dict[str, str]:
    """The form Twilio posts for an incoming SMS (the fields it always sends)."""
    sid = message_sid or "SM" + uuid.uuid4().hex
    return {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "CA",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "US",
        "To": to_number,
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_number,
        "ApiVersion": "2010-04-01",
    }


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature for a form posted to ``url``, computed as Twilio does."""
    return RequestValidator(auth_token).compute_signature(url, params)
