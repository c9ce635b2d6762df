"""Spelling correction against the domain's own vocabulary."""

from __future__ import annotations

import pytest

from bot.nlu.spelling import SpellCorrector, words

DOMAIN = [
    "When is the recycling pickup?",
    "Bin collection days in Millbrook, Old Town and Harbourside",
    "Report a broken street light or a pothole on Elm Street",
    "My bin wasn't emptied",
]


@pytest.fixture(scope="module")
def speller() -> SpellCorrector:
    return SpellCorrector(words(DOMAIN))


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("wen is teh recyclin pikup for millbrok", "when is the recycling pickup for millbrook"),
        ("my streetlight is brokn", "my streetlight is broken"),  # a dropped letter, not "brown"
        ("Milbrook collectoin", "Millbrook collection"),
        ("a pothoel on Elm Stret", "a pothole on Elm Street"),
    ],
)
def test_typos_are_corrected(speller: SpellCorrector, typed: str, meant: str) -> None:
    assert speller.correct(typed) == meant


@pytest.mark.parametrize(
    "text",
    [
        "my bin wasnt emptied",  # a contraction without its apostrophe is a word
        "the brown bin",  # real English words stay
        "REQ-2026-000123 and 206 555 0142",  # references and numbers are never touched
        "Zanzibar",  # unknown but nothing close: left alone
        "",
        "ok",
    ],
)
def test_real_words_and_numbers_are_left_alone(speller: SpellCorrector, text: str) -> None:
    assert speller.correct(text) == text
