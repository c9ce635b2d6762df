"""The real-speech benchmark's set: Debian's recordings with their transcripts, by phone."""

from __future__ import annotations

from evaluation.benchmarks.asr_wer import normalised
from evaluation.benchmarks.real_speech import (
    MAX_SECONDS,
    asterisk_recordings,
    by_phone,
    pocketsphinx_recordings,
)
from voice.audio import PHONE_RATE


def test_the_set_is_the_spoken_recordings_a_caller_turn_could_be() -> None:
    asterisk, sphinx = asterisk_recordings(3), pocketsphinx_recordings()
    assert (len(asterisk), len(sphinx)) == (177, 10)
    assert not any("[" in r.text or "/silence/" in str(r.path) for r in asterisk)
    take = by_phone(asterisk[0])
    assert take.sample_rate == PHONE_RATE and 0 < take.seconds <= MAX_SECONDS + 0.1
    assert take.reference == "Activated."


def test_numerals_and_punctuation_do_not_count_as_errors() -> None:
    assert normalised("12 Elm Street.") == normalised("twelve elm street") == "twelve elm street"
    assert normalised("Fly-tipping, 5th Street") == "fly tipping fifth street"
