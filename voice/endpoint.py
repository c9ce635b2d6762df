"""Where a caller's utterance starts and ends in live telephone audio, judged by its energy.

A phone line delivers audio in 20 ms frames whether anyone speaks or not. The call needs
to know three things from them: the caller started speaking (stop our prompt: barge-in),
the caller stopped (a short quiet ends the utterance: recognise it and answer), and the
caller said nothing for a while after our prompt (prompt again). Time is counted in
frames, not wall-clock seconds, so a stream fed faster than real time (tests, files)
behaves exactly as a live one.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from voice.audio import frames, rms


@dataclass(frozen=True)
class EndpointConfig:
    """Levels are PCM16 RMS; durations in milliseconds, rounded to whole frames.

    ``speech_level``: telephone speech sits around 1,000-8,000, a quiet line under 200.
    ``barge_in_ms``: while our prompt plays, speech must last this long before we stop
    talking, so a cough or a click on the line does not cut the prompt off.
    ``end_ms``: the quiet that ends an utterance; shorter answers sooner, longer lets a
    slow speaker pause mid-sentence. It is the floor of the reply latency.
    """

    frame_ms: int = 20
    speech_level: float = 500.0
    start_ms: int = 60
    barge_in_ms: int = 200
    end_ms: int = 500
    preroll_ms: int = 300
    max_utterance_ms: int = 15_000
    no_input_ms: int = 7_000

    def frames(self, ms: int) -> int:
        return max(1, round(ms / self.frame_ms))


@dataclass(frozen=True)
class SpeechStarted:
    """The caller began to speak (while we were playing: a barge-in).

    ``preroll`` is the audio from a little before the start up to this frame: the
    beginning of the utterance, for a recogniser that starts now.
    """

    barge_in: bool
    preroll: bytes


@dataclass(frozen=True)
class Utterance:
    """One utterance, from a little before it started to the quiet that ended it."""

    pcm16: bytes


@dataclass(frozen=True)
class NoInput:
    """Nothing was said for ``no_input_ms`` since :meth:`Endpointer.arm` was called."""


Event = SpeechStarted | Utterance | NoInput


class Endpointer:
    """Feed it every frame of the caller's audio; it tells you when things happen.

    ``playing`` is set by the transport while our audio plays; ``arm`` starts the
    no-input clock once a prompt has finished, ``disarm`` stops it.
    """

    def __init__(self, config: EndpointConfig | None = None) -> None:
        self.config = config or EndpointConfig()
        c = self.config
        self._start = c.frames(c.start_ms)
        self._barge_in = c.frames(c.barge_in_ms)
        self._end = c.frames(c.end_ms)
        self._max = c.frames(c.max_utterance_ms)
        self._no_input = c.frames(c.no_input_ms)
        self._preroll: deque[bytes] = deque(
            maxlen=max(c.frames(c.preroll_ms), self._barge_in, self._start)
        )
        self.playing = False
        self._speech: list[bytes] | None = None
        self._loud_run = 0
        self._quiet_run = 0
        self._waited: int | None = None

    @property
    def in_speech(self) -> bool:
        return self._speech is not None

    @property
    def quiet_frames(self) -> int:
        """Quiet frames since the caller last spoke, within an utterance."""
        return self._quiet_run

    def arm(self) -> None:
        self._waited = 0

    def disarm(self) -> None:
        self._waited = None

    def feed(self, frame: bytes) -> list[Event]:
        loud = rms(frame) >= self.config.speech_level
        if self._speech is None:
            return self._idle(frame, loud)
        self._speech.append(frame)
        self._quiet_run = 0 if loud else self._quiet_run + 1
        if self._quiet_run >= self._end or len(self._speech) >= self._max:
            audio, self._speech = b"".join(self._speech), None
            self._quiet_run = self._loud_run = 0
            return [Utterance(audio)]
        return []

    def _idle(self, frame: bytes, loud: bool) -> list[Event]:
        self._preroll.append(frame)
        self._loud_run = self._loud_run + 1 if loud else 0
        if self._loud_run >= (self._barge_in if self.playing else self._start):
            self._speech = list(self._preroll)
            self._preroll.clear()
            self._waited = None
            return [SpeechStarted(self.playing, b"".join(self._speech))]
        if self._waited is not None:
            self._waited += 1
            if self._waited >= self._no_input:
                self._waited = None
                return [NoInput()]
        return []


def has_speech(pcm16: bytes, rate: int, config: EndpointConfig | None = None) -> bool:
    """Whether a recording holds anything an endpointer would take for speech."""
    endpointer = Endpointer(config)
    return any(
        isinstance(event, SpeechStarted)
        for frame in frames(pcm16, rate, endpointer.config.frame_ms)
        for event in endpointer.feed(frame)
    )
