"""Shared set-up for the phone-line tests: one voice line per runtime, a caller on the phone."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from bot.runtime import Runtime
from channels.voice_line import VoiceLine, build_line
from tests.channels.channel_helpers import TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN, channel_settings
from voice.audio import PHONE_RATE, frames, silence, telephone_degrade
from voice.call import CallSession, CallTurn
from voice.endpoint import EndpointConfig, Endpointer, NoInput, SpeechStarted, Utterance
from voice.live import EagerRecognition
from voice.tts import Synthesizer

PhoneSpeech = Callable[..., tuple[bytes, int]]
_LINES: dict[int, VoiceLine] = {}


def caller_speech(cache_dir: Path) -> PhoneSpeech:
    """Speech for ``text`` as it reaches us over a phone line (8 kHz PCM16, through mu-law)."""
    synthesizer = Synthesizer(cache_dir=cache_dir)

    def speak(text: str) -> tuple[bytes, int]:
        return telephone_degrade(*synthesizer.synthesize(text))

    return speak


WEDNESDAY_MORNING = (2026, 12, 2, 10, 0)  # the city's office hours
SUNDAY = (2026, 12, 6, 10, 0)  # out of them


def set_clock(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, moment: tuple[int, ...]) -> None:
    """The assistant's clock at a local time: whether staff answer the phone depends on it."""
    local = datetime(*moment, tzinfo=runtime.assistant.zone)
    monkeypatch.setattr(runtime.assistant, "clock", lambda: local)


def caller_number() -> str:
    """A fresh, valid caller number (555-01xx: fictional), so no test meets another's call."""
    return f"+1{random.choice(['212', '415', '617', '202'])}555{random.randrange(10**4):04d}"


def twilio_runtime(runtime: Runtime) -> Runtime:
    """The session runtime with Twilio configured (calls, and the SMS offer after filing)."""
    settings = channel_settings(
        runtime,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
        twilio_from_number=TWILIO_FROM,
    )
    return dataclasses.replace(runtime, settings=settings)


def voice_line(runtime: Runtime) -> VoiceLine:
    """One line (domain model, recogniser, synthesizer) per runtime and test process."""
    if id(runtime) not in _LINES:
        _LINES[id(runtime)] = build_line(twilio_runtime(runtime))
    return _LINES[id(runtime)]


def phone_turn(
    line: VoiceLine, session: CallSession, phone_speech: PhoneSpeech, text: str | None
) -> CallTurn:
    """The caller says ``text`` on the phone (``None``: nothing) and the call answers.

    The audio goes the way of a live stream: 8 kHz mu-law speech (``phone_speech``) in
    20 ms frames through the endpointer, recognised while it arrives with the grammar
    the call listens for; silence runs out the no-input clock.
    """
    config = EndpointConfig(no_input_ms=2_000)
    endpointer = Endpointer(config)
    endpointer.arm()
    speech = phone_speech(text)[0] if text else b""
    audio = silence(400, PHONE_RATE) + speech + silence(3_000, PHONE_RATE)
    recognition: EagerRecognition | None = None
    for frame in frames(audio, PHONE_RATE, config.frame_ms):
        for event in endpointer.feed(frame):
            if isinstance(event, SpeechStarted):
                recognition = EagerRecognition(line.recognizer, PHONE_RATE, session.listen, 10)
                recognition.feed(event.preroll, 0)
            elif isinstance(event, Utterance) and recognition is not None:
                return session.hear(recognition.finish())
            elif isinstance(event, NoInput):
                assert text is None, f"no speech found in the audio of {text!r}"
                return session.silence()
        if recognition is not None and endpointer.in_speech:
            recognition.feed(frame, endpointer.quiet_frames)
    raise AssertionError("neither speech nor the end of the no-input time")


def call_sid() -> str:
    return "CA" + "".join(random.choice("0123456789abcdef") for _ in range(32))


def voice_form(sid: str, caller: str, **fields: str) -> dict[str, str]:
    """The form Twilio posts to a voice webhook (the fields it always sends, and ``fields``)."""
    return {
        "AccountSid": TWILIO_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": sid,
        "CallStatus": "in-progress",
        "Called": TWILIO_FROM,
        "Caller": caller,
        "Direction": "inbound",
        "From": caller,
        "FromCountry": "US",
        "To": TWILIO_FROM,
        "ToCountry": "US",
        **fields,
    }
