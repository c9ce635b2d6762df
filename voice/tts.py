"""Speech synthesis with pyttsx3 over espeak-ng, slow and clear for the phone line."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyttsx3

from voice.audio import PHONE_RATE, pcm16_to_mulaw, read_wav, resample, wav_bytes, write_wav
from voice.errors import VoiceConfigError

# espeak-ng is a single process-wide instance behind every pyttsx3 engine and is not
# re-entrant, so one lock serialises all synthesis in the process.
_ESPEAK_LOCK = threading.Lock()
RENDER_TIMEOUT_S = 30.0


@functools.cache
def _engine() -> pyttsx3.Engine:
    """The process's one pyttsx3 engine, kept alive: espeak-ng calls back into its driver,
    and a collected engine turns those callbacks into errors. Use under the lock only."""
    engine = pyttsx3.init("espeak")
    # runAndWait ends its loop with the driver's stop(), which cancels espeak-ng whenever
    # espeak reports itself busy; that can cancel the utterance just queued, and the driver
    # then writes an empty file (measured: 8 of 450 renders under three threads). We render
    # whole utterances to files and never play, so there is nothing to stop.
    engine.proxy._driver.stop = lambda: None
    engine.runAndWait()  # a new engine is "busy" and would hold property changes back
    return engine


@functools.cache
def _installed_voices() -> frozenset[str]:
    return frozenset(voice.id for voice in _engine().getProperty("voices"))


class Synthesizer:
    """Turns prompts into speech; results are cached on disk when ``cache_dir`` is given.

    ``voice`` is an espeak-ng voice identifier with an optional variant, e.g.
    ``gmw/en-us`` (US English; espeak's default is British) or ``gmw/en-us+f2``.
    ``rate`` is in words per minute: 140 is slower than espeak's 175, which elderly
    callers and callers on a poor line follow better.
    """

    def __init__(
        self, voice: str = "gmw/en-us", rate: int = 140, cache_dir: Path | None = None
    ) -> None:
        base = voice.split("+", 1)[0].lower()
        with _ESPEAK_LOCK:
            known = _installed_voices()
        if base not in known:
            # espeak silently falls back to its default voice on an unknown name.
            raise VoiceConfigError(f"espeak-ng has no voice {voice!r} (e.g. gmw/en-us, gmw/en)")
        self.voice = voice
        self.rate = _checked_rate(rate)
        self.cache_dir = cache_dir
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)

    def synthesize(self, text: str, rate: int | None = None) -> tuple[bytes, int]:
        """PCM16 speech for ``text`` and its sample rate (22.05 kHz from espeak-ng)."""
        text = " ".join(text.split())
        if not text:
            raise ValueError("nothing to say: the prompt is empty")
        rate = self.rate if rate is None else _checked_rate(rate)
        cached = self._cache_path(text, rate)
        if cached is not None and cached.exists():
            return read_wav(cached)
        with _ESPEAK_LOCK:
            pcm16, sample_rate = self._render(text, rate)
        if cached is not None:
            # Write then rename, so a concurrent reader never sees half a file.
            partial = cached.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            write_wav(partial, pcm16, sample_rate)
            partial.replace(cached)
        return pcm16, sample_rate

    def synthesize_phone(self, text: str, rate: int | None = None) -> bytes:
        """8 kHz mu-law speech, ready for a telephone media stream."""
        pcm16, sample_rate = self.synthesize(text, rate)
        return pcm16_to_mulaw(resample(pcm16, sample_rate, PHONE_RATE))

    def to_wav_bytes(self, text: str, rate: int | None = None) -> bytes:
        """A WAV file of the speech, for voice notes and HTTP responses."""
        return wav_bytes(*self.synthesize(text, rate))

    def cache_path(self, text: str, rate: int | None = None) -> Path | None:
        """Where :meth:`synthesize` keeps ``text``'s speech (to serve it by URL); no cache: None."""
        rate = self.rate if rate is None else _checked_rate(rate)
        return self._cache_path(" ".join(text.split()), rate)

    def _cache_path(self, text: str, rate: int) -> Path | None:
        if self.cache_dir is None:
            return None
        key = hashlib.sha256(f"{self.voice}\n{rate}\n{text}".encode()).hexdigest()
        return self.cache_dir / f"{key}.wav"

    def _render(self, text: str, rate: int) -> tuple[bytes, int]:
        # One utterance per runAndWait: pyttsx3 keeps only the last save_to_file of a
        # batch, so queueing several would silently write one file.
        engine = _engine()
        engine.setProperty("voice", self.voice)
        engine.setProperty("rate", rate)
        # espeak-ng queues a rate change while it finishes the last utterance: start only
        # once the new rate is in force.
        _wait_for(lambda: engine.getProperty("rate") == rate, "take the new rate")
        done = threading.Event()
        token = engine.connect("finished-utterance", lambda **_: done.set())
        try:
            with tempfile.TemporaryDirectory(prefix="hotline-tts-") as tmp:
                out = Path(tmp) / "speech.wav"
                engine.save_to_file(text, str(out))
                # The espeak driver prints "Audio saved to ..." for every file.
                with contextlib.redirect_stdout(io.StringIO()):
                    engine.runAndWait()
                    # espeak-ng synthesizes on its own thread and runAndWait can return
                    # before it is done; the file is complete once the utterance ends.
                    _wait_for(done.is_set, f"finish speaking {text!r}")
                return read_wav(out)
        finally:
            engine.disconnect(token)


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"espeak-ng did not {what} in {RENDER_TIMEOUT_S:.0f} s")
        time.sleep(0.001)


def _checked_rate(rate: int) -> int:
    if not 80 <= rate <= 450:  # espeak-ng's accepted range
        raise VoiceConfigError(f"speech rate {rate} wpm is outside 80-450")
    return rate
