"""Audio plumbing shared by recognition, synthesis and the phone line.

Everything is raw little-endian 16-bit mono PCM (``pcm16``) plus a sample rate, or
8-bit G.711 mu-law, which is what telephone networks (and Twilio Media Streams) carry.
"""

from __future__ import annotations

import io
import warnings
import wave
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import numpy as np
from scipy import signal

with warnings.catch_warnings():
    # Deprecated on 3.11-3.12 but still the fastest exact G.711 codec; on 3.13+ the
    # audioop-lts package provides the same module.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

PHONE_RATE = 8000
MULAW_SILENCE = b"\xff"  # mu-law encodes zero as 0xFF, not 0x00


def mulaw_to_pcm16(data: bytes) -> bytes:
    """Decode G.711 mu-law (telephone audio) to 16-bit PCM."""
    return audioop.ulaw2lin(data, 2)


def pcm16_to_mulaw(data: bytes) -> bytes:
    """Encode 16-bit PCM as G.711 mu-law for the phone."""
    return audioop.lin2ulaw(data, 2)


def _samples(pcm16: bytes) -> np.ndarray:
    return np.frombuffer(pcm16, dtype="<i2").astype(np.float64)


def _to_pcm16(samples: np.ndarray) -> bytes:
    return np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes()


def resample(pcm16: bytes, from_rate: int, to_rate: int) -> bytes:
    """Change the sample rate with a polyphase anti-aliasing filter.

    ``audioop.ratecv`` interpolates without filtering, which aliases speech when going
    down to 8 kHz; recognition accuracy depends on a clean band.
    """
    if from_rate == to_rate or not pcm16:
        return pcm16
    ratio = Fraction(to_rate, from_rate)
    out = signal.resample_poly(_samples(pcm16), ratio.numerator, ratio.denominator)
    return _to_pcm16(out)


def read_wav(source: str | Path | bytes | BinaryIO) -> tuple[bytes, int]:
    """Read a PCM WAV (path, bytes or file object) as mono 16-bit PCM and its rate.

    Voice notes and test fixtures come in any width and channel count; everything
    downstream wants one shape.
    """
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    with wave.open(str(source) if isinstance(source, Path) else source, "rb") as wav:
        channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
        raw = wav.readframes(wav.getnframes())
    if width == 1:  # 8-bit WAV is unsigned
        raw = audioop.bias(raw, 1, -128)
    pcm16 = audioop.lin2lin(raw, width, 2) if width != 2 else raw
    if channels > 1:
        stacked = _samples(pcm16).reshape(-1, channels)
        pcm16 = _to_pcm16(stacked.mean(axis=1))
    return pcm16, rate


def write_wav(target: str | Path | BinaryIO, pcm16: bytes, rate: int) -> None:
    """Write mono 16-bit PCM as a WAV file (path or file object)."""
    with wave.open(str(target) if isinstance(target, Path) else target, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm16)


def wav_bytes(pcm16: bytes, rate: int) -> bytes:
    """The bytes of a WAV file, for HTTP responses and voice notes."""
    buffer = io.BytesIO()
    write_wav(buffer, pcm16, rate)
    return buffer.getvalue()


def frames(data: bytes, rate: int, ms: int = 20, sample_width: int = 2) -> Iterator[bytes]:
    """Cut audio into fixed-length frames, padding the last one with silence.

    ``sample_width=2`` is PCM16, ``sample_width=1`` is mu-law (padded with 0xFF).
    Telephone media streams carry 20 ms frames, and a short last frame is rejected or
    clicks, so every frame has the same length.
    """
    size = rate * ms // 1000 * sample_width
    if size <= 0:
        raise ValueError(f"a {ms} ms frame at {rate} Hz holds no sample")
    pad = MULAW_SILENCE if sample_width == 1 else b"\x00"
    for start in range(0, len(data), size):
        chunk = data[start : start + size]
        yield chunk + pad * (size - len(chunk))


def telephone_degrade(pcm16: bytes, rate: int) -> tuple[bytes, int]:
    """Make audio sound as it does after a phone call: 300-3400 Hz, 8 kHz, mu-law.

    Used to test recognition on what a caller's voice really becomes on the line.
    """
    narrow = _samples(resample(pcm16, rate, PHONE_RATE))
    if narrow.size:
        band = signal.butter(4, [300, 3400], btype="bandpass", fs=PHONE_RATE, output="sos")
        narrow = signal.sosfilt(band, narrow)
    return mulaw_to_pcm16(pcm16_to_mulaw(_to_pcm16(narrow))), PHONE_RATE


def silence(ms: int, rate: int) -> bytes:
    """PCM16 silence of the given length."""
    return b"\x00\x00" * (rate * ms // 1000)


def rms(pcm16: bytes) -> float:
    """Root-mean-square level in PCM16 units, for voice-activity and barge-in checks."""
    return float(audioop.rms(pcm16, 2)) if pcm16 else 0.0
