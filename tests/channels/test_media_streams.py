"""Twilio Media Streams: a real WebSocket client speaks Twilio's protocol to our server.

The server is the app under uvicorn on a loopback port; the client (the ``websockets``
package) plays Twilio: ``connected``, ``start`` with our token, the caller's speech as
base64 mu-law in 20 ms ``media`` frames, ``dtmf``, and each ``mark`` echoed once "played".
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from bot.runtime import Runtime
from channels import voice_twilio
from tests.channels.channel_helpers import TWILIO_SID, TWILIO_TOKEN, app_for, serve
from tests.channels.voice_helpers import PhoneSpeech, call_sid, caller_number, caller_speech
from voice.audio import PHONE_RATE, frames, pcm16_to_mulaw, silence

PATH = "/webhooks/twilio/media"
TIMEOUT = 60  # seconds to wait for a reply: generous, CI machines are busy


@pytest.fixture(scope="module")
def server(runtime: Runtime) -> Iterator[tuple[str, Runtime]]:
    app = app_for(
        runtime,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
        voice_no_input_ms=1_000,  # a quick no-input prompt
    )
    with serve(app) as url:
        yield url.replace("http://", "ws://") + PATH, app.state.runtime


@pytest.fixture(scope="module")
def phone_speech(tmp_path_factory: pytest.TempPathFactory) -> PhoneSpeech:
    return caller_speech(tmp_path_factory.mktemp("tts"))


@dataclass
class TwilioSide:
    """Twilio's end of one stream."""

    socket: ClientConnection
    stream_sid: str = field(default_factory=lambda: "MZ" + f"{random.getrandbits(128):032x}")
    sent: int = 0
    received: list[dict] = field(default_factory=list)

    def send(self, message: dict) -> None:
        self.sent += 1
        self.socket.send(json.dumps({"sequenceNumber": str(self.sent), **message}))

    def start(self, sid: str, caller: str, token: str, **format_: object) -> None:
        self.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        media_format = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1, **format_}
        self.send(
            {
                "event": "start",
                "streamSid": self.stream_sid,
                "start": {
                    "streamSid": self.stream_sid,
                    "accountSid": TWILIO_SID,
                    "callSid": sid,
                    "tracks": ["inbound"],
                    "customParameters": {"caller": caller, "token": token},
                    "mediaFormat": media_format,
                },
            }
        )

    def say(self, pcm16: bytes) -> None:
        """The caller's audio (8 kHz PCM16) as Twilio sends it: mu-law, 20 ms a message."""
        for index, chunk in enumerate(frames(pcm16_to_mulaw(pcm16), PHONE_RATE, 20, 1)):
            payload = base64.b64encode(chunk).decode()
            media = {"track": "inbound", "chunk": str(index), "timestamp": "0", "payload": payload}
            self.send({"event": "media", "streamSid": self.stream_sid, "media": media})

    def press(self, digit: str) -> None:
        dtmf = {"track": "inbound_track", "digit": digit}
        self.send({"event": "dtmf", "streamSid": self.stream_sid, "dtmf": dtmf})

    def next(self) -> dict:
        message = json.loads(self.socket.recv(timeout=TIMEOUT))
        assert message["streamSid"] == self.stream_sid
        self.received.append(message)
        return message

    def reply(self) -> tuple[bytes, str]:
        """Our reply: its audio (mu-law) and the mark sent after it."""
        audio = b""
        while (message := self.next())["event"] == "media":
            chunk = base64.b64decode(message["media"]["payload"])
            assert len(chunk) == 160  # 20 ms of 8 kHz mu-law
            audio += chunk
        assert message["event"] == "mark", message
        return audio, message["mark"]["name"]

    def played(self, mark: str) -> None:
        self.send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": mark}})


@contextmanager
def open_call(url: str, runtime: Runtime) -> Iterator[tuple[TwilioSide, bytes]]:
    """A started stream, and the greeting's audio once it has been "played"."""
    sid, caller = call_sid(), caller_number()
    with connect(url, open_timeout=TIMEOUT) as socket:
        side = TwilioSide(socket)
        side.start(sid, caller, voice_twilio.stream_token(runtime, sid, caller))
        greeting, mark = side.reply()
        side.played(mark)
        yield side, greeting


def seconds(mulaw: bytes) -> float:
    return len(mulaw) / PHONE_RATE


def test_a_spoken_turn_gets_our_speech_back_then_a_mark(server, phone_speech) -> None:
    url, runtime = server
    with open_call(url, runtime) as (side, greeting):
        assert 3 < seconds(greeting) < 7
        side.say(phone_speech("report a problem")[0] + silence(1_000, PHONE_RATE))
        reply, mark = side.reply()
        assert seconds(reply) > seconds(greeting)  # "What kind of problem ... Press 1 for ..."
        assert mark == "turn-2"
        side.played(mark)


def test_speaking_over_our_reply_clears_it(server, phone_speech) -> None:
    url, runtime = server
    with open_call(url, runtime) as (side, _):
        side.say(phone_speech("i want to report a pothole")[0] + silence(1_000, PHONE_RATE))
        first = side.next()
        assert first["event"] == "media"
        side.say(phone_speech("operator")[0])  # before the reply's mark came back: a barge-in
        events = []
        while "clear" not in events:
            events.append(side.next()["event"])
        side.say(silence(1_000, PHONE_RATE))
        _, mark = side.reply()  # the handoff: "passing you to a member of staff. Goodbye."
        assert mark == "turn-3"  # nothing of turn 2 came after the clear
        side.played(mark)
        with pytest.raises(ConnectionClosed):  # no operator number: the call ends
            side.next()


def test_keys_and_silence_on_a_stream(server) -> None:
    url, runtime = server
    with open_call(url, runtime) as (side, _):
        side.press("1")  # report a problem
        asked, mark = side.reply()
        side.played(mark)
        side.say(silence(1_500, PHONE_RATE))  # no-input after 1 s: asked again
        again, mark = side.reply()
        assert seconds(again) > seconds(asked)  # "Sorry, I didn't hear anything." first
        side.played(mark)
        side.press("*")
        repeated, _ = side.reply()
        assert repeated == asked


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("not json", 1007),
        ("[1, 2]", 1007),
        (json.dumps({"event": "media", "media": {"payload": "AAAA"}}), 1008),  # before start
        (json.dumps({"event": "start", "start": {}}), 1007),
    ],
)
def test_a_stream_that_breaks_the_protocol_is_closed(server, message: str, code: int) -> None:
    url, _ = server
    with connect(url, open_timeout=TIMEOUT) as socket:
        socket.send(message)
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code


def test_a_stream_not_started_by_our_twiml_is_refused(server) -> None:
    url, runtime = server
    sid, caller = call_sid(), caller_number()
    for token, format_ in [
        ("forged", {}),
        (voice_twilio.stream_token(runtime, sid, "+12125550199"), {}),  # another caller's
        (voice_twilio.stream_token(runtime, sid, caller), {"sampleRate": 16000}),
    ]:
        with connect(url, open_timeout=TIMEOUT) as socket:
            side = TwilioSide(socket)
            side.start(sid, caller, token, **format_)
            with pytest.raises(ConnectionClosed) as closed:
                side.next()
        assert closed.value.rcvd is not None and closed.value.rcvd.code in (1007, 1008)


def test_binary_frames_and_unknown_events(server) -> None:
    url, runtime = server
    with open_call(url, runtime) as (side, _):
        side.send({"event": "something-new", "streamSid": side.stream_sid})  # ignored
        side.press("0")
        _, mark = side.reply()
        side.socket.send(b"\x00\x01")
        with pytest.raises(ConnectionClosed) as closed:
            side.next()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
    assert mark


def test_the_stream_is_refused_when_twilio_is_not_configured(runtime: Runtime) -> None:
    with serve(app_for(runtime)) as base:
        url = base.replace("http://", "ws://") + PATH
        with pytest.raises(InvalidStatus) as refused:
            connect(url, open_timeout=TIMEOUT)
    assert refused.value.response.status_code == 403


@pytest.fixture(scope="module")
def guarded(runtime: Runtime) -> Iterator[tuple[str, Runtime]]:
    """A server with short stream deadlines and room for two open streams."""
    app = app_for(
        runtime,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
        voice_stream_start_seconds=3,
        voice_stream_idle_seconds=3,
        voice_max_streams=2,
    )
    with serve(app) as url:
        yield url.replace("http://", "ws://") + PATH, app.state.runtime


def closed_code(socket: ClientConnection, within: float) -> int:
    """Read (and drop) what comes until the server closes; the close code."""
    deadline = time.monotonic() + within
    with pytest.raises(ConnectionClosed) as closed:
        while time.monotonic() < deadline:
            socket.recv(timeout=max(0.1, deadline - time.monotonic()))
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def test_a_socket_that_never_starts_is_closed_at_its_deadline(guarded) -> None:
    url, _ = guarded
    with connect(url, open_timeout=TIMEOUT) as socket:
        started = time.monotonic()
        side = TwilioSide(socket)
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(40):  # "connected" over and over does not keep it open
                side.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
                time.sleep(0.25)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert 1.5 < time.monotonic() - started < 10  # about the 3 s deadline, not at once


def test_a_started_stream_that_goes_quiet_is_closed(guarded) -> None:
    url, runtime = guarded
    sid, caller = call_sid(), caller_number()
    with connect(url, open_timeout=TIMEOUT) as socket:
        side = TwilioSide(socket)
        side.start(sid, caller, voice_twilio.stream_token(runtime, sid, caller))
        assert closed_code(socket, within=30) == 1008  # after the greeting, 3 s of nothing


def test_open_streams_are_capped(guarded) -> None:
    url, _ = guarded
    with connect(url, open_timeout=TIMEOUT), connect(url, open_timeout=TIMEOUT):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, open_timeout=TIMEOUT)
        assert refused.value.response.status_code == 403
    deadline = time.monotonic() + 10  # both closed: room again
    while True:
        try:
            with connect(url, open_timeout=TIMEOUT):
                break
        except InvalidStatus:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_every_frame_must_carry_the_streams_sid(server) -> None:
    url, runtime = server
    with open_call(url, runtime) as (side, _):
        media = {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": "//8="}
        side.send({"event": "media", "streamSid": "MZ" + "f" * 32, "media": media})
        assert closed_code(side.socket, within=TIMEOUT) == 1008
