"""Codecs, resampling, framing and the telephone channel, checked on real signals."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from voice.audio import (
    frames,
    mulaw_to_pcm16,
    pcm16_to_mulaw,
    read_wav,
    resample,
    rms,
    silence,
    telephone_degrade,
    wav_bytes,
    write_wav,
)


def tone(hz: float, rate: int, seconds: float = 0.5, amplitude: float = 10000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


def samples(pcm16: bytes) -> np.ndarray:
    return np.frombuffer(pcm16, dtype="<i2").astype(np.float64)


def peak_hz(pcm16: bytes, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples(pcm16)))
    return float(np.fft.rfftfreq(len(pcm16) // 2, 1 / rate)[spectrum.argmax()])


def test_mulaw_decodes_and_reencodes_every_code_to_itself() -> None:
    codes = bytes(range(256))
    again = pcm16_to_mulaw(mulaw_to_pcm16(codes))
    # 0x7F is mu-law's "negative zero": it decodes to 0, which encodes as 0xFF.
    assert [(a, b) for a, b in zip(codes, again, strict=True) if a != b] == [(0x7F, 0xFF)]


def test_mulaw_round_trip_keeps_pcm_within_its_quantisation_step() -> None:
    pcm = np.arange(-32768, 32768, 7, dtype="<i2")
    back = samples(mulaw_to_pcm16(pcm16_to_mulaw(pcm.tobytes())))
    assert len(pcm16_to_mulaw(pcm.tobytes())) == len(pcm)  # one byte a sample
    error = np.abs(back - pcm)
    # mu-law is logarithmic: the step grows with the amplitude, about 1/16 of it at most.
    assert np.all(error <= np.abs(pcm.astype(np.float64)) / 16 + 8)


@pytest.mark.parametrize(("source", "target"), [(22050, 8000), (8000, 16000), (16000, 8000)])
def test_resampling_keeps_a_tones_pitch_length_and_level(source: int, target: int) -> None:
    out = resample(tone(440, source), source, target)
    assert len(out) // 2 == pytest.approx(0.5 * target, abs=2)
    assert peak_hz(out, target) == pytest.approx(440, abs=3)
    assert rms(out) == pytest.approx(rms(tone(440, source)), rel=0.02)


def test_downsampling_filters_out_what_the_new_rate_cannot_carry() -> None:
    # A 5 kHz tone does not fit under 8 kHz's 4 kHz Nyquist limit; without an
    # anti-aliasing filter it would fold back as a 3 kHz tone.
    assert rms(resample(tone(5000, 16000), 16000, 8000)) < 0.01 * rms(tone(5000, 16000))


def test_resampling_nothing_or_to_the_same_rate_changes_nothing() -> None:
    audio = tone(300, 8000)
    assert resample(audio, 8000, 8000) == audio
    assert resample(b"", 8000, 16000) == b""


def test_frames_are_20_ms_and_the_last_is_padded_with_silence() -> None:
    pcm = tone(440, 8000, seconds=0.05)  # 400 samples: two frames and a half
    chunks = list(frames(pcm, 8000))
    assert [len(c) for c in chunks] == [320, 320, 320]  # 160 samples x 2 bytes
    assert b"".join(chunks)[: len(pcm)] == pcm
    assert set(chunks[-1][len(pcm) - 640 :]) == {0}


def test_mulaw_frames_are_160_bytes_padded_with_mulaw_silence() -> None:
    mulaw = pcm16_to_mulaw(tone(440, 8000, seconds=0.05))
    chunks = list(frames(mulaw, 8000, sample_width=1))
    assert [len(c) for c in chunks] == [160, 160, 160]
    assert set(chunks[-1][len(mulaw) - 320 :]) == {0xFF}
    assert set(mulaw_to_pcm16(chunks[-1][len(mulaw) - 320 :])) == {0}


def test_telephone_line_passes_speech_band_and_cuts_the_rest() -> None:
    def through_phone(hz: float) -> float:
        out, rate = telephone_degrade(tone(hz, 22050), 22050)
        assert rate == 8000
        assert len(out) // 2 == pytest.approx(4000, abs=2)
        return rms(out) / rms(tone(hz, 22050))

    assert through_phone(1000) > 0.9
    assert through_phone(100) < 0.1  # mains hum and rumble
    assert through_phone(3900) < 0.2  # above 3.4 kHz


def test_telephone_output_is_exactly_what_mulaw_can_carry() -> None:
    out, _ = telephone_degrade(tone(1000, 16000), 16000)
    assert mulaw_to_pcm16(pcm16_to_mulaw(out)) == out


def test_wav_round_trip(tmp_path) -> None:
    audio = tone(440, 16000)
    write_wav(tmp_path / "a.wav", audio, 16000)
    assert read_wav(tmp_path / "a.wav") == (audio, 16000)
    assert read_wav(wav_bytes(audio, 16000)) == (audio, 16000)


def test_stereo_and_8_bit_wavs_are_read_as_mono_pcm16() -> None:
    left, right = samples(tone(440, 8000)), samples(tone(440, 8000, amplitude=2000))
    stereo = io.BytesIO()
    with wave.open(stereo, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(np.column_stack([left, right]).astype("<i2").tobytes())
    pcm, rate = read_wav(stereo.getvalue())
    assert rate == 8000
    assert np.allclose(samples(pcm), (left + right) / 2, atol=1)

    eight_bit = io.BytesIO()
    with wave.open(eight_bit, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(8000)
        wav.writeframes(bytes([128, 255, 0]))  # unsigned: silence, loudest up, loudest down
    pcm, _ = read_wav(eight_bit.getvalue())
    assert samples(pcm).tolist() == [0, 127 * 256, -128 * 256]


def test_silence_and_level() -> None:
    assert silence(20, 8000) == b"\x00" * 320
    assert rms(silence(20, 8000)) == 0.0
    assert rms(b"") == 0.0
    assert rms(tone(440, 8000)) == pytest.approx(10000 / np.sqrt(2), rel=0.01)
