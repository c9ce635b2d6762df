"""Spelling correction against the domain's own vocabulary, so that "wen is teh recyclin pikup
for millbrok" is understood like clean text.

The vocabulary is what this deployment talks about: the NLU examples, the knowledge articles
and the gazetteer, counted at start-up. symspellpy finds the closest vocabulary word for a word
we do not know; its bundled English frequency list tells a real word (left alone) from a typo.
A rare English word one edit away from a much commoner domain word ("wen" for "when") is
corrected too. Numbers, references and short words are never touched.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from importlib import resources

from symspellpy import SymSpell, Verbosity

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
MIN_LENGTH = 3  # shorter words are too ambiguous to correct
COMMON_ENGLISH = 3_000_000  # a word this frequent in English is meant, even if unknown to us
UNDOUBLED = 300_000  # a word this common, with one letter doubled, is that word mistyped
REAL_WORD_RATIO = 100  # a rare real word is a typo for a domain word this many times commoner
ENGLISH = "frequency_dictionary_en_82_765.txt"


def words(texts: Iterable[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(w.lower() for w in _WORD.findall(text))
    return counts


def _english() -> dict[str, int]:
    table: dict[str, int] = {}
    with resources.files("symspellpy").joinpath(ENGLISH).open(encoding="utf-8") as lines:
        for line in lines:
            word, _, count = line.partition(" ")
            table[word] = int(count)
    return table


def _subsequence(typed: str, word: str) -> bool:
    letters = iter(word)
    return all(ch in letters for ch in typed)


class SpellCorrector:
    def __init__(self, vocabulary: Counter[str]) -> None:
        self.english = _english()
        # "dont", "wasnt", "theres": contractions typed without the apostrophe are words
        self.vocabulary = {w.replace("'", "") for w in vocabulary if len(w) >= 2} | {
            w for w in vocabulary if len(w) >= 2 and "'" not in w
        }
        self._symspell = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        for word in self.vocabulary:
            # domain words rank by how common they are in English, then in our texts
            self._symspell.create_dictionary_entry(
                word, self.english.get(word, 0) + vocabulary[word]
            )

    def correct_word(self, word: str) -> str:
        lowered = word.lower()
        if len(lowered) < MIN_LENGTH or lowered in self.vocabulary or "'" in lowered:
            return word
        known = self.english.get(lowered, 0)
        if known >= COMMON_ENGLISH:
            return word
        best = self._undoubled(lowered) or self._closest(lowered, known)
        if best is None:
            return word
        return best.capitalize() if word[0].isupper() else best

    def _undoubled(self, word: str) -> str | None:
        """A doubled letter ("schoool", "feelling") that leaves a word we know, domain or not."""
        singles = {word[:i] + word[i + 1 :] for i in range(len(word) - 1) if word[i] == word[i + 1]}
        known = [w for w in singles if w in self.vocabulary or self.english.get(w, 0) >= UNDOUBLED]
        return max(known, key=lambda w: self.english.get(w, 0), default=None)

    def _closest(self, word: str, known: int) -> str | None:
        distance = 1 if len(word) <= 4 or known else 2
        suggestions = self._symspell.lookup(word, Verbosity.CLOSEST, max_edit_distance=distance)
        if not suggestions:
            return None
        # Among equally close words: the first letter is rarely the slip, then two letters
        # swapped ("noies": noise) or one dropped ("brokn": broken), then the commoner word.
        best = max(
            suggestions,
            key=lambda s: (
                s.term[0] == word[0],
                sorted(s.term) == sorted(word),
                _subsequence(word, s.term),
                s.count,
            ),
        )
        if known:  # a real but rare word: only a dropped letter or a swap makes it a typo
            slip = _subsequence(word, best.term) or sorted(best.term) == sorted(word)
            if not slip or best.count < known * REAL_WORD_RATIO:
                return None
        return best.term

    def correct(self, text: str) -> str:
        return _WORD.sub(lambda m: self.correct_word(m.group(0)), text)
