"""The one streaming interface every speech recogniser offers, and what it returns."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from voice.audio import frames, resample, silence

# Callers can say these at any prompt ("repeat", "slower", "operator" work at any point),
# so every grammar accepts them unless built with other commands.
COMMANDS = ("operator", "repeat", "slower")
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

# Leading and trailing silence given to a recogniser: both engines misjudge the first
# and last phones when speech starts or stops right at the buffer's edge.
PAD_MS = 300


@dataclass(frozen=True)
class Grammar:
    """A restricted vocabulary: the recogniser may only answer with these phrases.

    ``count`` phrases are expected in a row (``None``: one or more). A known count
    matters: a reference read digit by digit is recognised far better as "exactly six
    digits" than as "some digits". ``commands`` may be said alone instead, at any prompt.
    """

    phrases: tuple[str, ...]
    count: int | None = 1
    commands: tuple[str, ...] = COMMANDS

    def __post_init__(self) -> None:
        object.__setattr__(self, "phrases", _cleaned(self.phrases))
        object.__setattr__(self, "commands", _cleaned(self.commands))
        if not self.phrases or "" in self.phrases + self.commands:
            raise ValueError("a grammar needs at least one phrase, and no empty one")
        if self.count is not None and self.count < 1:
            raise ValueError(f"a grammar expects at least one phrase, not {self.count}")

    @property
    def words(self) -> tuple[str, ...]:
        """Every distinct word the grammar can produce."""
        phrases = self.phrases + self.commands
        return tuple(dict.fromkeys(word for phrase in phrases for word in phrase.split()))

    @classmethod
    def yes_no(cls) -> Grammar:
        return cls(("yes", "no"))

    @classmethod
    def digits(cls, length: int | None = None) -> Grammar:
        """Digits read one by one; give ``length`` when the number of digits is known."""
        return cls((*DIGIT_WORDS, "oh"), count=length)

    @classmethod
    def menu(cls, options: Iterable[str]) -> Grammar:
        return cls(tuple(options))


def _cleaned(phrases: Iterable[str]) -> tuple[str, ...]:
    """Lower case, no punctuation: recognisers output bare words ("Report a problem.")."""
    bare = (re.sub(r"[^\w' ]+", " ", phrase.lower()) for phrase in phrases)
    return tuple(dict.fromkeys(" ".join(phrase.split()) for phrase in bare))


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
    """A speech recogniser expecting mono PCM16 at ``sample_rate``.

    ``grammars``: whether a grammar restricts what it can answer (pocketsphinx, vosk). One
    that cannot be restricted (Whisper) takes the grammar's phrases as expected words,
    and is decoded once per utterance rather than once per grammar.
    """

    sample_rate: int
    name: str
    grammars: bool

    def stream(
        self, grammar: Grammar | None = None, vocabulary: Sequence[str] = ()
    ) -> RecognitionStream:
        """Start recognising one utterance, restricted to ``grammar`` if given.

        ``vocabulary`` is what the turn expects (street names, service names, yes/no):
        a recogniser that can be prompted uses it, the others need not.
        """
        ...


def transcribe(
    recognizer: Recognizer,
    pcm16: bytes,
    rate: int,
    grammar: Grammar | None = None,
    chunk_ms: int = 20,
    vocabulary: Sequence[str] = (),
) -> Result:
    """Recognise a whole recording as a stream would, chunk by chunk, padded with silence."""
    audio = resample(pcm16, rate, recognizer.sample_rate)
    pad = silence(PAD_MS, recognizer.sample_rate)
    stream = recognizer.stream(grammar, vocabulary)
    for chunk in frames(pad + audio + pad, recognizer.sample_rate, chunk_ms):
        stream.feed(chunk)
    return stream.finish()
