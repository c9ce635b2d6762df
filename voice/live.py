"""Recognising a caller while they speak, so the answer can start as soon as they stop.

Decoding a whole utterance after it ended costs a few hundred milliseconds of CPU per
second of speech, all of it added to the caller's wait. Fed frame by frame while the
caller speaks, the decoder has little left to do when the utterance ends.

A turn with a grammar (yes/no, a menu) is decoded twice, with the grammar and as open
speech: a grammar is far more accurate on the words it expects but turns anything else
into one of them, so when the open transcript is clearly longer than the grammar's
answer ("no, it's on Fifth Street" to a yes/no question) the caller said something else,
and the open transcript wins. A recogniser that cannot be restricted (Whisper) is decoded
once, told the turn's expected words (the grammar's phrases and the turn's hints).
"""

from __future__ import annotations

from math import gcd

import numpy as np
from scipy import signal

from voice.asr.base import PAD_MS, RecognitionStream, Recognizer, transcribe
from voice.audio import resample, silence
from voice.call import Listen, normalise

# resample_poly's default filter reaches 10 * max(up, down) output samples either side;
# this much input context on each side makes a chunk's output identical to resampling the
# whole recording at once (for the rate pairs a phone line needs: 8 <-> 16 kHz).
_CONTEXT = 32


class StreamResampler:
    """Resamples PCM16 chunk by chunk with the same output as resampling it all at once.

    Each chunk is filtered with a little of the audio before and after it; the last
    ``_CONTEXT`` samples wait for the next chunk (or :meth:`flush`).
    """

    def __init__(self, from_rate: int, to_rate: int) -> None:
        divisor = gcd(from_rate, to_rate)
        self.up, self.down = to_rate // divisor, from_rate // divisor
        if self.down != 1:
            raise ValueError("only whole-number upsampling (e.g. 8 kHz -> 16 kHz) streams")
        self._history = np.zeros(_CONTEXT)
        self._pending = np.zeros(0)

    def feed(self, pcm16: bytes) -> bytes:
        self._pending = np.concatenate([self._pending, _samples(pcm16)])
        ready = len(self._pending) - _CONTEXT
        if ready <= 0:
            return b""
        return self._emit(ready, self._pending)

    def flush(self) -> bytes:
        ready = len(self._pending)
        if ready == 0:
            return b""
        return self._emit(ready, np.concatenate([self._pending, np.zeros(_CONTEXT)]))

    def _emit(self, ready: int, pending: np.ndarray) -> bytes:
        window = np.concatenate([self._history, pending[: ready + _CONTEXT]])
        out = signal.resample_poly(window, self.up, self.down)
        start = _CONTEXT * self.up
        chunk = out[start : start + ready * self.up]
        self._history = np.concatenate([self._history, pending[:ready]])[-_CONTEXT:]
        self._pending = self._pending[ready:]
        return np.clip(np.round(chunk), -32768, 32767).astype("<i2").tobytes()


def _samples(pcm16: bytes) -> np.ndarray:
    return np.frombuffer(pcm16, dtype="<i2").astype(np.float64)


class LiveRecognition:
    """One utterance, recognised as it arrives at ``rate`` with what the turn listens for."""

    def __init__(self, recognizer: Recognizer, rate: int, listen: Listen) -> None:
        target = recognizer.sample_rate
        self._resampler = StreamResampler(rate, target) if rate != target else None
        if not recognizer.grammars:
            self._streams: list[RecognitionStream] = [
                recognizer.stream(listen.grammar, listen.hints)
            ]
        else:
            self._streams = [recognizer.stream()]
            if listen.grammar is not None:
                self._streams.append(recognizer.stream(listen.grammar))
        self._pad = silence(PAD_MS, recognizer.sample_rate)
        self._push(self._pad)
        self._done: str | None = None

    def feed(self, pcm16: bytes) -> None:
        if self._done is not None:
            raise RuntimeError("this utterance is finished")
        self._push(self._resampler.feed(pcm16) if self._resampler else pcm16)

    def finish(self) -> str:
        """The transcript, choosing between grammar and open speech (see the module doc)."""
        if self._done is None:
            if self._resampler:
                self._push(self._resampler.flush())
            self._push(self._pad)
            texts = [normalise(stream.finish().text) for stream in self._streams]
            self._done = choose(*texts)
        return self._done

    def _push(self, pcm16: bytes) -> None:
        if pcm16:
            for stream in self._streams:
                stream.feed(pcm16)


class EagerRecognition:
    """A :class:`LiveRecognition` that finishes as soon as the caller pauses.

    Most of a decoder's work happens when the utterance is finished (a second search
    pass), which would all be added to the caller's wait after the end-of-speech quiet.
    After ``early_frames`` quiet frames this finishes at once, while the endpointer is
    still waiting to be sure; if the caller speaks again, the decode starts over with the
    whole utterance so far. Feed it every frame of the utterance with the endpointer's
    count of quiet frames so far.
    """

    def __init__(
        self, recognizer: Recognizer, rate: int, listen: Listen, early_frames: int
    ) -> None:
        self._args = (recognizer, rate, listen)
        self._early = early_frames
        self._audio: list[bytes] = []
        self._live = LiveRecognition(*self._args)
        self._text: str | None = None
        self.restarts = 0

    def feed(self, frame: bytes, quiet_frames: int) -> None:
        self._audio.append(frame)
        if self._text is not None:
            if quiet_frames:
                return  # still quiet: the finished decode stands
            self.restarts += 1
            self._text = None
            self._live = LiveRecognition(*self._args)
            self._live.feed(b"".join(self._audio))
            return
        self._live.feed(frame)
        if quiet_frames >= self._early:
            self._text = self._live.finish()

    def finish(self) -> str:
        if self._text is None:
            self._text = self._live.finish()
        return self._text


def choose(open_text: str, closed: str | None = None) -> str:
    """The grammar's transcript unless the open one is clearly longer (or the grammar's empty)."""
    if closed is None or not closed or len(open_text.split()) > len(closed.split()) + 2:
        return open_text
    return closed


def recognize(recognizer: Recognizer, pcm16: bytes, rate: int, listen: Listen) -> str:
    """What the caller said in a whole recording, with the turn's grammar where one applies."""
    audio = resample(pcm16, rate, recognizer.sample_rate)
    if not recognizer.grammars:
        rate = recognizer.sample_rate
        return normalise(transcribe(recognizer, audio, rate, listen.grammar, 20, listen.hints).text)
    open_text = normalise(transcribe(recognizer, audio, recognizer.sample_rate).text)
    if listen.grammar is None:
        return open_text
    closed = transcribe(recognizer, audio, recognizer.sample_rate, listen.grammar)
    return choose(open_text, normalise(closed.text))
