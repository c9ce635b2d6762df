"""Words and pronunciations for pocketsphinx: text normalisation, cmudict, derived entries.

A recogniser can only output words its dictionary can pronounce. Hotline text is full
of words cmudict lacks (compounds like "streetlight", local street names), so missing
words get a pronunciation derived from known parts or from letter-to-sound rules.

The en-us acoustic model was trained on wideband speech, where "s" and "z" are mostly
energy above 4 kHz; a phone line stops at 3.4 kHz, so on a call "street" arrives as
"treet" and "is" as "i". Each word therefore also gets its phone-band variant, with
those sounds left out (:func:`phone_band_variant`).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pocketsphinx

CMUDICT = Path(pocketsphinx.get_model_path("en-us")) / "cmudict-en-us.dict"

Phones = tuple[str, ...]

_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)*|\d")

# Ordered longest-first, matched greedily: a rough fallback for words that neither
# cmudict nor a compound split can pronounce (street names, brand names).
_LETTER_TO_SOUND: tuple[tuple[str, Phones], ...] = (
    ("tion", ("SH", "AH", "N")),
    ("sion", ("ZH", "AH", "N")),
    ("ough", ("AO",)),
    ("igh", ("AY",)),
    ("tch", ("CH",)),
    ("dge", ("JH",)),
    ("ch", ("CH",)),
    ("sh", ("SH",)),
    ("th", ("TH",)),
    ("ph", ("F",)),
    ("wh", ("W",)),
    ("ck", ("K",)),
    ("ng", ("NG",)),
    ("qu", ("K", "W")),
    ("ee", ("IY",)),
    ("ea", ("IY",)),
    ("oo", ("UW",)),
    ("ou", ("AW",)),
    ("ow", ("OW",)),
    ("oa", ("OW",)),
    ("ai", ("EY",)),
    ("ay", ("EY",)),
    ("oi", ("OY",)),
    ("oy", ("OY",)),
    ("au", ("AO",)),
    ("aw", ("AO",)),
    ("er", ("ER",)),
    ("ir", ("ER",)),
    ("ur", ("ER",)),
    ("ar", ("AA", "R")),
    ("or", ("AO", "R")),
    ("a", ("AE",)),
    ("b", ("B",)),
    ("c", ("K",)),
    ("d", ("D",)),
    ("e", ("EH",)),
    ("f", ("F",)),
    ("g", ("G",)),
    ("h", ("HH",)),
    ("i", ("IH",)),
    ("j", ("JH",)),
    ("k", ("K",)),
    ("l", ("L",)),
    ("m", ("M",)),
    ("n", ("N",)),
    ("o", ("AA",)),
    ("p", ("P",)),
    ("q", ("K",)),
    ("r", ("R",)),
    ("s", ("S",)),
    ("t", ("T",)),
    ("u", ("AH",)),
    ("v", ("V",)),
    ("w", ("W",)),
    ("x", ("K", "S")),
    ("y", ("IY",)),
    ("z", ("Z",)),
)


def words(text: str) -> list[str]:
    """Lower-case spoken words of ``text``; each digit becomes its name ("12" -> one two)."""
    tokens = _TOKEN.findall(text.lower())
    return [_DIGITS[int(token)] if token.isdigit() else token for token in tokens]


@functools.cache
def cmudict() -> dict[str, tuple[Phones, ...]]:
    """The CMU pronouncing dictionary shipped in the pocketsphinx wheel."""
    entries: dict[str, list[Phones]] = {}
    with CMUDICT.open(encoding="utf-8") as lines:
        for line in lines:
            word, *phones = line.split()
            entries.setdefault(re.sub(r"\(\d+\)$", "", word), []).append(tuple(phones))
    return {word: tuple(variants) for word, variants in entries.items()}


# Sibilants whose energy lies mostly above the 3.4 kHz a phone line carries.
_ABOVE_PHONE_BAND = frozenset({"S", "Z"})


def pronunciations(word: str) -> tuple[Phones, ...]:
    """Every cmudict pronunciation of ``word``, or one derived pronunciation."""
    known = cmudict().get(word)
    if known:
        return known
    return (split_compound(word) or letter_to_sound(word),)


def phone_band_variant(phones: Phones) -> Phones | None:
    """``phones`` as they sound over a phone line: without "s" and "z" ("street" -> T R IY T).

    None when nothing is lost or nothing would be left. Measured on telephone-degraded
    synthetic calls (evaluation/benchmarks/asr_wer.py): domain-LM word errors from 17% to 9%, and
    no change on wideband audio, where the full pronunciation still wins.
    """
    kept = tuple(phone for phone in phones if phone not in _ABOVE_PHONE_BAND)
    return kept if kept and kept != phones else None


def dictionary_entries(word: str) -> tuple[Phones, ...]:
    """What a recogniser's dictionary lists for ``word``: its pronunciations, then their
    phone-band variants, each once."""
    variants = list(pronunciations(word))
    for phones in list(variants):
        narrow = phone_band_variant(phones)
        if narrow is not None and narrow not in variants:
            variants.append(narrow)
    return tuple(variants)


def split_compound(word: str, min_part: int = 3) -> Phones | None:
    """Pronounce a compound ("streetlight") as its known parts, fewest parts first."""
    dictionary = cmudict()
    # best[i]: the fewest-part pronunciation of word[:i], as (part count, phones).
    best: list[tuple[int, Phones] | None] = [(0, ())] + [None] * len(word)
    for end in range(min_part, len(word) + 1):
        for start in range(0, end - min_part + 1):
            prefix, part = best[start], word[start:end]
            if prefix is None or part not in dictionary:
                continue
            candidate = (prefix[0] + 1, prefix[1] + dictionary[part][0])
            if best[end] is None or candidate[0] < best[end][0]:
                best[end] = candidate
    found = best[len(word)]
    return found[1] if found and found[0] > 1 else None


def letter_to_sound(word: str) -> Phones:
    """A rough pronunciation from spelling alone; a final silent "e" is dropped."""
    letters = re.sub(r"[^a-z]", "", word.lower())
    if len(letters) > 2 and letters.endswith("e") and not letters.endswith("ee"):
        letters = letters[:-1]
    phones: list[str] = []
    position = 0
    while position < len(letters):
        for grapheme, sounds in _LETTER_TO_SOUND:
            if letters.startswith(grapheme, position):
                phones.extend(sounds)
                position += len(grapheme)
                break
    return tuple(phones)
