"""Finding utterances in a live stream and recognising them while they are spoken."""

from __future__ import annotations

import numpy as np
import pytest

from voice.asr import Grammar, PocketsphinxRecognizer
from voice.audio import PHONE_RATE, frames, resample, silence
from voice.call import Listen
from voice.endpoint import (
    EndpointConfig,
    Endpointer,
    NoInput,
    SpeechStarted,
    Utterance,
    has_speech,
)
from voice.live import EagerRecognition, LiveRecognition, StreamResampler, choose, recognize

FRAME = PHONE_RATE // 50  # samples in 20 ms


def tone(ms: int, level: float = 3000.0) -> bytes:
    samples = np.arange(PHONE_RATE * ms // 1000)
    wave = level * np.sqrt(2) * np.sin(2 * np.pi * 440 * samples / PHONE_RATE)
    return wave.astype("<i2").tobytes()


def feed(endpointer: Endpointer, audio: bytes) -> list[tuple[int, object]]:
    """Every event with the index of the frame that raised it."""
    return [
        (index, event)
        for index, frame in enumerate(frames(audio, PHONE_RATE, 20))
        for event in endpointer.feed(frame)
    ]


# -- the resampler -------------------------------------------------------------------------
@pytest.mark.parametrize("chunk", [1, 7, 160, 333, 8000])
def test_streamed_resampling_equals_resampling_at_once(chunk: int) -> None:
    audio = np.random.default_rng(5).normal(0, 4000, 4000).astype("<i2").tobytes()
    resampler = StreamResampler(PHONE_RATE, 16000)
    pieces = [resampler.feed(audio[i : i + chunk * 2]) for i in range(0, len(audio), chunk * 2)]
    assert b"".join(pieces) + resampler.flush() == resample(audio, PHONE_RATE, 16000)
    assert resampler.flush() == b""


def test_streamed_resampling_only_goes_up() -> None:
    with pytest.raises(ValueError, match="upsampling"):
        StreamResampler(16000, PHONE_RATE)


# -- the endpointer ------------------------------------------------------------------------
def test_an_utterance_starts_with_speech_and_ends_after_a_short_quiet() -> None:
    audio = silence(400, PHONE_RATE) + tone(600) + silence(700, PHONE_RATE)
    events = feed(Endpointer(), audio)
    (start_at, start), (end_at, end) = events
    assert isinstance(start, SpeechStarted) and not start.barge_in
    assert start_at == 20 + 2  # 400 ms of silence, then three loud frames
    assert isinstance(end, Utterance)
    assert end_at == 20 + 30 + 24  # 500 ms of quiet after the speech
    # the utterance keeps the preroll: up to 300 ms from before speech was certain
    assert len(end.pcm16) // 2 // FRAME == (start_at - 20 + 1) + 15 - 3 + (end_at - start_at)


def test_a_click_is_not_speech_and_a_pause_does_not_end_an_utterance() -> None:
    audio = tone(40) + silence(500, PHONE_RATE) + tone(300) + silence(300, PHONE_RATE)
    audio += tone(300) + silence(600, PHONE_RATE)
    kinds = [type(event).__name__ for _, event in feed(Endpointer(), audio)]
    assert kinds == ["SpeechStarted", "Utterance"]


def test_barge_in_needs_longer_speech_while_our_prompt_plays() -> None:
    endpointer = Endpointer()
    endpointer.playing = True
    assert feed(endpointer, tone(100)) == []
    ((_, event),) = feed(endpointer, tone(200))
    assert isinstance(event, SpeechStarted) and event.barge_in


def test_no_input_is_reported_once_after_arming_only() -> None:
    endpointer = Endpointer(EndpointConfig(no_input_ms=1000))
    assert feed(endpointer, silence(3000, PHONE_RATE)) == []
    endpointer.arm()
    events = feed(endpointer, silence(3000, PHONE_RATE))
    assert [(at, type(e)) for at, e in events] == [(49, NoInput)]
    endpointer.arm()
    assert [type(e) for _, e in feed(endpointer, tone(200))] == [SpeechStarted]
    assert feed(endpointer, silence(400, PHONE_RATE) + tone(60)) == []  # speech disarmed it


def test_an_endless_utterance_is_cut() -> None:
    events = feed(Endpointer(EndpointConfig(max_utterance_ms=1000)), tone(2500))
    cut = [SpeechStarted, Utterance] * 2 + [SpeechStarted]  # and the rest goes on
    assert [type(e) for _, e in events] == cut
    assert all(len(e.pcm16) == 50 * FRAME * 2 for _, e in events if isinstance(e, Utterance))


def test_has_speech(phone_speech) -> None:
    assert has_speech(phone_speech("yes")[0], PHONE_RATE)
    assert not has_speech(silence(2000, PHONE_RATE), PHONE_RATE)
    assert not has_speech(b"", PHONE_RATE)


# -- recognition -------------------------------------------------------------------------
def test_the_grammar_wins_unless_the_caller_clearly_said_more() -> None:
    assert choose("yeah", "yes") == "yes"
    assert choose("no it is on elm street", "no") == "no it is on elm street"
    assert choose("something", "") == "something"
    assert choose("open speech") == "open speech"


def test_live_recognition_hears_what_a_whole_recording_does(
    domain_recognizer: PocketsphinxRecognizer, phone_speech
) -> None:
    audio, rate = phone_speech("i want to report a pothole on main street")
    live = LiveRecognition(domain_recognizer, rate, Listen())
    for frame in frames(audio, rate, 20):
        live.feed(frame)
    heard = live.finish()
    assert heard == recognize(domain_recognizer, audio, rate, Listen())
    assert "pothole on main street" in heard
    assert live.finish() == heard
    with pytest.raises(RuntimeError):
        live.feed(b"\0\0")


def test_a_grammar_turn_takes_the_grammar_or_the_longer_open_speech(
    domain_recognizer: PocketsphinxRecognizer, phone_speech
) -> None:
    yes_no = Listen(Grammar.yes_no())
    assert recognize(domain_recognizer, *phone_speech("yes"), yes_no) == "yes"
    said = recognize(domain_recognizer, *phone_speech("no it is on elm street"), yes_no)
    assert said.endswith("elm street")


def test_eager_recognition_finishes_early_and_starts_over_when_speech_goes_on(
    domain_recognizer: PocketsphinxRecognizer, phone_speech
) -> None:
    first, rate = phone_speech("i want to report")
    second, _ = phone_speech("a pothole on main street")
    audio = first + silence(100, rate) + second + silence(1000, rate)
    endpointer = Endpointer(EndpointConfig(end_ms=800))  # a slow speaker's pause
    eager: EagerRecognition | None = None
    heard = None
    for frame in frames(audio, rate, 20):
        for event in endpointer.feed(frame):
            if isinstance(event, SpeechStarted):
                eager = EagerRecognition(domain_recognizer, rate, Listen(), early_frames=10)
                eager.feed(event.preroll, 0)
            elif isinstance(event, Utterance) and eager is not None:
                heard = eager.finish()
        if eager is not None and endpointer.in_speech:
            eager.feed(frame, endpointer.quiet_frames)
    assert eager is not None and eager.restarts >= 1  # finished after "report", then more
    assert heard is not None and "pothole on main street" in heard and "report" in heard
