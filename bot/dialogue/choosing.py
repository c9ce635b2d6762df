"""Pick one of the offered choices from an answer in the resident's own words.

A button title is rarely what people type. An answer picks a choice by its position ("the
second one", "the last"), by a word or phrase that names it (its title, the synonyms in
``bot/data/choices.yml`` and the catalogue, matched with typos through rapidfuzz), or by
meaning (the sentence vector against each choice's phrases). Negation is read: "don't call
me" rules the call out, "no thanks" or "don't bother" picks the choice that declines, and
"neither of those" says no offered choice fits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from rapidfuzz import fuzz

from bot.catalogue import DATA, Catalogue
from bot.contract import Choice
from bot.dialogue.understanding import payload

CHOICES = DATA / "choices.yml"
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_CLAUSE_END = re.compile(r"[,.;:!?]|\b(?:but|just|instead|rather|and)\b")
NEGATION_CUES = frozenset(
    [
        "no",
        "not",
        "dont",
        "don't",
        "never",
        "nah",
        "nope",
        "without",
        "neither",
        "nor",
        "cant",
        "can't",
        "wont",
        "won't",
        "isnt",
        "isn't",
        "doesnt",
        "doesn't",
        "didnt",
        "didn't",
    ]
)
NEGATION_SCOPE = 4  # words after a cue that it negates, up to the end of the clause
NONE_OF_THESE = re.compile(
    r"\b(?:neither|none of (?:those|them|these|the above|that)|not (?:any|one) of (?:those|them|"
    r"these)|something else|nothing like that|it's not (?:any|one) of|none fits?)\b"
)
ORDINALS = {
    "first": 1, "1st": 1, "top": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3,
    "fourth": 4, "4th": 4, "fifth": 5, "5th": 5,
}  # fmt: skip
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_ORDINAL = re.compile(
    r"\b(?:the\s+)?(?P<ord>first|1st|top|second|2nd|third|3rd|fourth|4th|fifth|5th|last|bottom)"
    r"(?:\s+(?:one|option|choice|button|of them))?\b"
)
_NUMBERED = re.compile(r"\b(?:number|option|choice|no\.?)\s*(?P<n>[1-5]|one|two|three|four|five)\b")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "i",
        "me",
        "my",
        "we",
        "you",
        "it",
        "its",
        "it's",
        "is",
        "are",
        "be",
        "to",
        "of",
        "on",
        "in",
        "at",
        "for",
        "by",
        "with",
        "please",
        "one",
        "that",
        "this",
        "those",
        "these",
        "one's",
        "just",
        "can",
        "could",
        "would",
        "will",
        "like",
        "want",
    ]
)
FUZZY_WORD = 84  # rapidfuzz ratio at which a typed word is the same as a phrase word
MEANING_MATCH = 0.62  # cosine to a choice's closest phrase, with a lead over the next
MEANING_MARGIN = 0.07
SHORT_ANSWER_WORDS = 8  # a longer text picks by a lone distinguishing word only if nothing else


@dataclass(frozen=True)
class Pick:
    """What an answer said about the offered choices."""

    choice: Choice | None  # the choice picked, or None with ``none_of_these``
    how: str  # position | phrase | word | meaning | declined | none_of_these


@dataclass(frozen=True)
class Lexicon:
    """Per payload: the phrases that name a choice, and whether the choice declines."""

    phrases: dict[str, tuple[str, ...]]
    declining: frozenset[str]

    @classmethod
    def build(cls, catalogue: Catalogue, path: Path = CHOICES) -> Lexicon:
        """The phrase file plus the catalogue's words: service names and keywords, and each
        form field's choices with their synonyms (a yes/no field answers like yes/no)."""
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        phrases: dict[str, tuple[str, ...]] = {}
        declining: set[str] = set()
        for item in raw.get("choices", []):
            phrases[item["payload"]] = tuple(str(p) for p in item.get("phrases", []))
            if item.get("declines"):
                declining.add(item["payload"])
        for service in catalogue.services:
            phrases[payload("service", service.code)] = (service.name, *service.keywords)
            for spec in service.fields:
                for value in spec.choices:
                    key = payload("field", f"{spec.name}={value}")
                    words = [value, *spec.synonyms.get(value, [])]
                    if value in ("yes", "no"):
                        words += phrases.get(payload("affirm" if value == "yes" else "deny"), ())
                    if value in ("no", "nothing"):
                        declining.add(key)
                    phrases[key] = tuple(words)
        return cls(phrases, frozenset(declining))

    def of(self, choice: Choice) -> tuple[str, ...]:
        return (choice.title, *self.phrases.get(choice.payload, ()))


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("’", "'"))


def negated_positions(text: str) -> set[int]:
    """Token positions that a negation cue governs ("don't [call me]", "not [the blue bin]")."""
    lowered = text.lower().replace("’", "'")
    negated: set[int] = set()
    position = 0
    for clause in _CLAUSE_END.split(lowered):
        words = tokens(clause)
        for i, word in enumerate(words):
            if word in NEGATION_CUES:
                end = min(len(words), i + 1 + NEGATION_SCOPE)
                negated.update(range(position + i + 1, position + end))
        position += len(words)
    return negated


def has_negation(words: list[str]) -> bool:
    return any(w in NEGATION_CUES for w in words)


def _same(word: str, other: str) -> bool:
    if word == other:
        return True
    if min(len(word), len(other)) < 4 or word[0] != other[0]:  # "there" is not "here"
        return False
    return fuzz.ratio(word, other) >= FUZZY_WORD


def _find_phrase(phrase: list[str], words: list[str]) -> list[int] | None:
    """Where every content word of the phrase occurs in the answer (any order), or None."""
    content = [w for w in phrase if w not in STOPWORDS] or phrase
    found: list[int] = []
    for p in content:
        at = next((i for i, w in enumerate(words) if i not in found and _same(w, p)), None)
        if at is None:
            return None
        found.append(at)
    return found


def _phrase_weight(
    phrase: list[str], words: list[str], negated: set[int], *, declining: bool
) -> float | None:
    """How much of the answer a phrase covers; -1 when found only under a negation."""
    if not phrase:
        return None
    if declining and has_negation(phrase):
        # "No updates" is named by "updates" in an answer that negates something
        if not has_negation(words):
            return None
        rest = [w for w in phrase if w not in NEGATION_CUES]
        at = _find_phrase(rest, words) if rest else []
        return None if at is None else sum(len(words[i]) for i in at) + 0.5
    at = _find_phrase(phrase, words)
    if at is None:
        return None
    if all(i in negated for i in at):
        return -1.0
    return float(sum(len(words[i]) for i in at))


class ChoiceMatcher:
    def __init__(self, lexicon: Lexicon, encode: Callable[[list[str]], np.ndarray]) -> None:
        self.lexicon = lexicon
        self._encode = encode
        self._vectors: dict[str, np.ndarray] = {}

    def pick(self, text: str, vector: np.ndarray | None, choices: list[Choice]) -> Pick | None:
        if not choices or not text.strip():
            return None
        lowered = text.lower().replace("’", "'")
        words = tokens(lowered)
        if not words:
            return None
        by_position = self._by_position(lowered, choices)
        if by_position is not None:
            return Pick(by_position, "position")
        negated = negated_positions(lowered)
        scores: dict[int, float] = {}
        ruled_out: set[int] = set()
        for index, choice in enumerate(choices):
            declining = choice.payload in self.lexicon.declining
            for phrase in self.lexicon.of(choice):
                weight = _phrase_weight(tokens(phrase), words, negated, declining=declining)
                if weight is None:
                    continue
                if weight < 0:
                    ruled_out.add(index)
                else:
                    scores[index] = max(scores.get(index, 0.0), weight)
        for index in ruled_out:
            scores.pop(index, None)
        if scores:
            ranked = sorted(scores.items(), key=lambda kv: -kv[1])
            if len(ranked) == 1 or ranked[0][1] > ranked[1][1]:
                return Pick(choices[ranked[0][0]], "phrase")
        if NONE_OF_THESE.search(lowered):
            return Pick(None, "none_of_these")
        declining = [c for c in choices if c.payload in self.lexicon.declining]
        if has_negation(words) and len(declining) == 1 and not scores and len(words) <= 4:
            others = [i for i, c in enumerate(choices) if c not in declining]
            if not ruled_out or all(i in ruled_out for i in others) or len(others) == 1:
                return Pick(declining[0], "declined")
        if ruled_out or scores:
            return None
        by_word = self._by_distinguishing_word(words, choices)
        if by_word is not None and len(words) <= SHORT_ANSWER_WORDS:
            return Pick(by_word, "word")
        if vector is not None:
            by_meaning = self._by_meaning(vector, choices)
            if by_meaning is not None:
                return Pick(by_meaning, "meaning")
        return None

    @staticmethod
    def _by_position(lowered: str, choices: list[Choice]) -> Choice | None:
        if (m := _NUMBERED.search(lowered)) is not None:
            raw = m.group("n")
            n = NUMBER_WORDS.get(raw) or int(raw)
            return choices[n - 1] if n <= len(choices) else None
        if (m := _ORDINAL.search(lowered)) is not None:
            word = m.group("ord")
            if word in ("last", "bottom"):
                return choices[-1]
            n = ORDINALS[word]
            # "1st Avenue" among street choices is a name, not a position
            if any(word in tokens(c.title) for c in choices):
                return None
            return choices[n - 1] if n <= len(choices) else None
        return None

    def _by_distinguishing_word(self, words: list[str], choices: list[Choice]) -> Choice | None:
        """A content word of the answer that belongs to exactly one choice's phrases."""
        owners: dict[int, set[int]] = {}
        for index, choice in enumerate(choices):
            for phrase in self.lexicon.of(choice):
                for p in tokens(phrase):
                    if p in STOPWORDS or len(p) < 3:
                        continue
                    for i, w in enumerate(words):
                        if w not in STOPWORDS and _same(w, p):
                            owners.setdefault(i, set()).add(index)
        picked = {next(iter(o)) for o in owners.values() if len(o) == 1}
        return choices[picked.pop()] if len(picked) == 1 else None

    def _by_meaning(self, vector: np.ndarray, choices: list[Choice]) -> Choice | None:
        best: list[float] = []
        for choice in choices:
            phrases = list(self.lexicon.of(choice))
            missing = [p for p in phrases if p not in self._vectors]
            if missing:
                for phrase, row in zip(missing, self._encode(missing), strict=True):
                    self._vectors[phrase] = row
            best.append(max(float(self._vectors[p] @ vector) for p in phrases))
        order = np.argsort(best)[::-1]
        top = best[order[0]]
        runner_up = best[order[1]] if len(order) > 1 else 0.0
        if top >= MEANING_MATCH and top - runner_up >= MEANING_MARGIN:
            return choices[int(order[0])]
        return None
