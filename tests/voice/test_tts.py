"""Synthesis through the real pyttsx3 and espeak-ng."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from voice.asr import transcribe
from voice.asr.pocketsphinx_engine import PocketsphinxRecognizer
from voice.audio import mulaw_to_pcm16, read_wav, resample, rms
from voice.errors import VoiceConfigError
from voice.tts import Synthesizer

LONG = "the streetlight outside my house has been out for a week"


def seconds(pcm16: bytes, rate: int) -> float:
    return len(pcm16) / 2 / rate


def test_speech_is_22khz_pcm_of_plausible_length(tmp_path: Path) -> None:
    pcm, rate = Synthesizer(cache_dir=tmp_path).synthesize("when is my recycling collected")
    assert rate == 22050
    assert 1.2 < seconds(pcm, rate) < 4.0
    assert rms(pcm) > 1000  # speech, not silence


def test_each_prompt_is_spoken_at_its_own_rate() -> None:
    # pyttsx3 cancels espeak-ng's queue when it starts speaking; a rate change still
    # queued there was lost and the prompt came out at the previous rate.
    synthesizer = Synthesizer()
    durations = {100: [], 200: []}
    for rate in (100, 200) * 4:
        durations[rate].append(seconds(*synthesizer.synthesize(LONG, rate=rate)))
    assert max(durations[200]) * 1.6 < min(durations[100])


def test_results_are_cached_on_disk_by_voice_rate_and_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Synthesizer(cache_dir=tmp_path).synthesize("please hold")
    where = Synthesizer(cache_dir=tmp_path).cache_path("please hold")
    assert list(tmp_path.glob("*.wav")) == [where]
    assert Synthesizer().cache_path("please hold") is None

    def no_espeak(*args: object) -> None:
        raise AssertionError("espeak-ng was called for a cached prompt")

    monkeypatch.setattr(Synthesizer, "_render", no_espeak)
    # A new synthesizer (another process, say) on the same folder uses the cache.
    assert Synthesizer(cache_dir=tmp_path).synthesize("please  hold ") == first
    with pytest.raises(AssertionError, match="cached prompt"):
        Synthesizer(cache_dir=tmp_path).synthesize("please hold", rate=170)
    with pytest.raises(AssertionError, match="cached prompt"):
        Synthesizer("gmw/en", cache_dir=tmp_path).synthesize("please hold")


def test_phone_audio_is_8khz_mulaw(tmp_path: Path) -> None:
    synthesizer = Synthesizer(cache_dir=tmp_path)
    pcm, rate = synthesizer.synthesize(LONG)
    phone = synthesizer.synthesize_phone(LONG)
    assert len(phone) == pytest.approx(seconds(pcm, rate) * 8000, abs=2)  # a byte a sample
    decoded = np.frombuffer(mulaw_to_pcm16(phone), dtype="<i2").astype(float)
    expected = np.frombuffer(resample(pcm, rate, 8000), dtype="<i2").astype(float)
    assert np.corrcoef(decoded, expected)[0, 1] > 0.99


def test_wav_bytes_hold_the_speech(tmp_path: Path) -> None:
    synthesizer = Synthesizer(cache_dir=tmp_path)
    assert read_wav(synthesizer.to_wav_bytes("yes")) == synthesizer.synthesize("yes")


def test_two_prompts_in_a_row_each_get_their_own_audio(
    domain_recognizer: PocketsphinxRecognizer,
) -> None:
    # pyttsx3 writes only the last file when several saves share one runAndWait.
    synthesizer = Synthesizer()
    short, rate = synthesizer.synthesize("yes")
    long, _ = synthesizer.synthesize("i want to report a pothole on main street")
    assert seconds(short, rate) < 1.0 < 2.0 < seconds(long, rate)
    assert transcribe(domain_recognizer, short, rate).text == "yes"
    assert "pothole" in transcribe(domain_recognizer, long, rate).text


def test_a_long_prompt_is_spoken_to_the_end() -> None:
    # espeak-ng works on its own thread, and pyttsx3's runAndWait returns after about
    # 10 ms whether it has finished or not: a long prompt must still come out whole.
    sentence = "the pothole on main street is getting bigger every day. "
    pcm, rate = Synthesizer(rate=170).synthesize(sentence * 12)
    assert seconds(pcm, rate) > 30


def test_concurrent_synthesis_matches_one_at_a_time() -> None:
    # espeak-ng's output varies by a few milliseconds from run to run, so compare
    # durations; the prompts differ in length by far more than that.
    synthesizer = Synthesizer()
    prompts = ["yes", "please hold the line", LONG, "one two three four five six seven"]
    alone = [seconds(*synthesizer.synthesize(p)) for p in prompts]
    with ThreadPoolExecutor(4) as pool:
        together = [seconds(*r) for r in pool.map(synthesizer.synthesize, prompts * 2)]
    assert together == pytest.approx(alone * 2, abs=0.05)
    assert min(abs(a - b) for a in alone for b in alone if a != b) > 0.3


def test_no_render_comes_back_empty_under_concurrent_use() -> None:
    # pyttsx3's runAndWait could cancel the utterance it had just queued, leaving an empty
    # file: about 2 % of renders when several threads share the engine.
    synthesizer = Synthesizer()
    jobs = [("yes", 120), ("hello", 140), ("Sorry, I didn't hear anything.", 175)] * 100
    with ThreadPoolExecutor(3) as pool:
        durations = list(pool.map(lambda job: seconds(*synthesizer.synthesize(*job)), jobs))
    assert min(durations) > 0.3


def test_unknown_voice_rate_or_empty_prompt_is_refused() -> None:
    with pytest.raises(VoiceConfigError, match="no voice 'klingon'"):
        Synthesizer("klingon")
    with pytest.raises(VoiceConfigError, match="outside 80-450"):
        Synthesizer(rate=20)
    with pytest.raises(ValueError, match="empty"):
        Synthesizer().synthesize("  ")
    assert Synthesizer("gmw/en-us+f2").voice == "gmw/en-us+f2"
