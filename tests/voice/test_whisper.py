"""Whisper tiny.en from the pinned wheel, on real human recordings carried by telephone.

The recordings are Debian's asterisk-core-sounds-en-wav (one professional voice, natively
8 kHz), put through the mu-law round trip a phone line makes. A handful only: each
decode costs about half a second of CPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from voice.asr import Grammar, WhisperRecognizer, transcribe
from voice.asr.whisper_engine import MODEL_SHA256, model_dir, verify, vocabulary_prompt
from voice.audio import PHONE_RATE, mulaw_to_pcm16, pcm16_to_mulaw, read_wav, resample
from voice.call import Listen, normalise
from voice.errors import VoiceConfigError
from voice.live import LiveRecognition, recognize

SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")


@pytest.fixture(scope="module")
def whisper() -> WhisperRecognizer:
    return WhisperRecognizer()


def by_phone(name: str) -> bytes:
    """A recording as a caller's line carries it: 8 kHz PCM16 through mu-law and back."""
    pcm16, rate = read_wav(SOUNDS / f"{name}.wav")
    return mulaw_to_pcm16(pcm16_to_mulaw(resample(pcm16, rate, PHONE_RATE)))


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("agent-pass", "please enter your password followed by the pound key"),
        ("all-circuits-busy-now", "all circuits are busy now"),
        ("vm-nobodyavail", "nobody is available to take your call at the moment"),
    ],
)
def test_real_telephone_speech_is_heard_word_for_word(
    whisper: WhisperRecognizer, name: str, said: str
) -> None:
    assert normalise(transcribe(whisper, by_phone(name), PHONE_RATE).text) == said


def test_a_lone_digit_and_a_yes_no_word_come_through_live_recognition(
    whisper: WhisperRecognizer,
) -> None:
    """The call's own path: one decode (no second grammar pass), the grammar as vocabulary."""
    digit = LiveRecognition(whisper, PHONE_RATE, Listen(Grammar.digits(1)))
    digit.feed(by_phone("digits/7"))
    assert digit.finish() in ("7", "seven")
    answer = recognize(whisper, by_phone("vm-no"), PHONE_RATE, Listen(Grammar.yes_no()))
    assert answer == "no"


def test_silence_on_the_line_is_heard_as_nothing(whisper: WhisperRecognizer) -> None:
    """Whisper invents "thank you" on silence; a quiet line never reaches the decoder."""
    quiet = mulaw_to_pcm16(pcm16_to_mulaw(b"\x10\x00" * PHONE_RATE * 2))
    assert transcribe(whisper, quiet, PHONE_RATE).text == ""


def test_the_vocabulary_prompt_is_a_plain_list_each_phrase_once() -> None:
    prompt = vocabulary_prompt(["Castle Street", " Elm  Street", "Castle Street", ""])
    assert prompt == "Castle Street, Elm Street"


def test_the_wheels_model_is_the_pinned_one_and_another_is_refused(tmp_path: Path) -> None:
    assert verify(model_dir()) == model_dir()
    (tmp_path / "model.bin").write_bytes(b"not the weights this code was measured with")
    with pytest.raises(VoiceConfigError, match=MODEL_SHA256):
        verify(tmp_path)
    with pytest.raises(VoiceConfigError, match=r"model\.bin missing"):
        verify(tmp_path / "empty")
