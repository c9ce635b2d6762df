"""The one streaming interface every speech recogniser offers, and what it returns."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from voice.audio import frames, resample, silence

# Callers can say these at any prompt ("repeat", "slower", "operator" work at any point),
# so the grammar helpers include them unless told not to.
COMMANDS = ("operator", "repeat", "slower")
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

# Leading and trailing silence given to a recogniser: both engines misjudge the first
# and last phones when speech starts or stops right at the buffer's edge.
PAD_MS = 300


@dataclass(frozen=True)
class Grammar:
    """A restricted vocabulary: the recogniser may only answer with these phrases.

    ``sequence`` lets phrases follow one another (a reference number read digit by
    digit); otherwise one phrase is expected.
    """

    phrases: tuple[str, ...]
    sequence: bool = False

    def __post_init__(self) -> None:
        cleaned = tuple(dict.fromkeys(" ".join(p.lower().split()) for p in self.phrases))
        if not cleaned or "" in cleaned:
            raise ValueError("a grammar needs at least one non-empty phrase")
        object.__setattr__(self, "phrases", cleaned)

    @property
    def words(self) -> tuple[str, ...]:
        """Every distinct word the grammar can produce."""
        return tuple(dict.fromkeys(word for phrase in self.phrases for word in phrase.split()))

    @classmethod
    def yes_no(cls, commands: bool = True) -> Grammar:
        return cls(("yes", "no", *(COMMANDS if commands else ())))

    @classmethod
    def digits(cls, commands: bool = True) -> Grammar:
        return cls((*DIGIT_WORDS, "oh", *(COMMANDS if commands else ())), sequence=True)

    @classmethod
    def menu(cls, options: Iterable[str], commands: bool = True) -> Grammar:
        return cls((*options, *(COMMANDS if commands else ())))


@dataclass(frozen=True)
class Result:
    """A hypothesis: ``final`` once the utterance is over; ``confidence`` in 0..1 if known."""

    text: str
    final: bool
    confidence: float | None = None


class RecognitionStream(Protocol):
    """One utterance being recognised as its audio arrives."""

    def feed(self, pcm16: bytes) -> Result | None:
        """Take more audio; return a partial result when the hypothesis changed."""
        ...

    def finish(self) -> Result:
        """End the utterance and return the final result."""
        ...


class Recognizer(Protocol):
    """A speech recogniser expecting mono PCM16 at ``sample_rate``."""

    sample_rate: int
    name: str

    def stream(self, grammar: Grammar | None = None) -> RecognitionStream:
        """Start recognising one utterance, restricted to ``grammar`` if given."""
        ...


def transcribe(
    recognizer: Recognizer,
    pcm16: bytes,
    rate: int,
    grammar: Grammar | None = None,
    chunk_ms: int = 20,
) -> Result:
    """Recognise a whole recording as a stream would, chunk by chunk, padded with silence."""
    audio = resample(pcm16, rate, recognizer.sample_rate)
    pad = silence(PAD_MS, recognizer.sample_rate)
    stream = recognizer.stream(grammar)
    for chunk in frames(pad + audio + pad, recognizer.sample_rate, chunk_ms):
        stream.feed(chunk)
    return stream.finish()
