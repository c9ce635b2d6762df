"""Picking an offered choice from an answer in the resident's own words."""

from __future__ import annotations

import numpy as np
import pytest

from bot.catalogue import Catalogue
from bot.contract import Choice
from bot.dialogue.choosing import ChoiceMatcher, Lexicon
from bot.dialogue.understanding import payload
from bot.runtime import Runtime

CONTACT = [
    Choice(title="Message me here", payload=payload("contact", "channel")),
    Choice(title="Call me", payload=payload("contact", "phone")),
    Choice(title="No updates", payload=payload("contact", "none")),
]
YES_NO = [Choice(title="Yes", payload="/affirm"), Choice(title="No", payload="/deny")]
BINS = [
    Choice(title=t.capitalize(), payload=payload("field", f"bin_type={t}"))
    for t in ("general", "recycling", "garden")
]


def no_meaning(_texts: list[str]) -> np.ndarray:
    raise AssertionError("these answers are picked by words, not by meaning")


@pytest.fixture(scope="module")
def matcher() -> ChoiceMatcher:
    return ChoiceMatcher(Lexicon.build(Catalogue.load()), no_meaning)


def picked(matcher: ChoiceMatcher, text: str, choices: list[Choice]) -> str | None:
    pick = matcher.pick(text, None, choices)
    if pick is None:
        return None
    return pick.choice.payload if pick.choice else pick.how


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("you can text me when its fixed", "/contact:channel"),
        ("send me a message", "/contact:channel"),
        ("just txt me", "/contact:channel"),
        ("a mesage here is fine", "/contact:channel"),  # a typo
        ("ring me please", "/contact:phone"),
        ("give me a call", "/contact:phone"),
        ("call me on 555 0142", "/contact:phone"),
        ("dont need any updates", "/contact:none"),
        ("nah no updates", "/contact:none"),
        ("don't bother", "/contact:none"),
        ("I'd rather not get updates", "/contact:none"),
        ("nope", "/contact:none"),
        ("no thanks", "/contact:none"),
        ("don't call me, just text", "/contact:channel"),
        ("the second one", "/contact:phone"),
        ("the last one", "/contact:none"),
        ("number 1", "/contact:channel"),
        ("option two", "/contact:phone"),
    ],
)
def test_contact_answers(matcher: ChoiceMatcher, text: str, expected: str) -> None:
    assert picked(matcher, text, CONTACT) == expected


def test_a_negated_choice_is_ruled_out_not_guessed(matcher: ChoiceMatcher) -> None:
    assert picked(matcher, "don't call me", CONTACT) is None  # a message, or no updates?


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the green bin one", "/field:bin_type=general"),
        ("it was the blue one with the recycling", "/field:bin_type=recycling"),
        ("the brown garden one", "/field:bin_type=garden"),
        ("not the blue one, the brown one", "/field:bin_type=garden"),
        ("normal rubbish", "/field:bin_type=general"),
    ],
)
def test_bins_by_colour_and_use(matcher: ChoiceMatcher, text: str, expected: str) -> None:
    assert picked(matcher, text, BINS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yep thats right", "/affirm"),
        ("go ahead", "/affirm"),
        ("sure, send it", "/affirm"),
        ("nah thats wrong", "/deny"),
        ("don't send it", "/deny"),
        ("not quite", "/deny"),
    ],
)
def test_yes_and_no(matcher: ChoiceMatcher, text: str, expected: str) -> None:
    assert picked(matcher, text, YES_NO) == expected


@pytest.mark.parametrize("text", ["neither of those", "none of them", "something else"])
def test_none_of_these(matcher: ChoiceMatcher, text: str) -> None:
    assert picked(matcher, text, BINS) == "none_of_these"


def test_a_street_called_first_is_a_name_not_a_position(matcher: ChoiceMatcher) -> None:
    streets = [
        Choice(title="5th Street", payload="/locate:5th Street"),
        Choice(title="1st Avenue", payload="/locate:1st Avenue"),
    ]
    assert picked(matcher, "1st avenue", streets) == "/locate:1st Avenue"


def test_a_distinguishing_word_picks_among_titles(matcher: ChoiceMatcher) -> None:
    reports = [
        Choice(title="Street light out, 12 Elm Street, 3 December", payload="/request:A"),
        Choice(title="Pothole, Maple Drive, 2 December", payload="/request:B"),
    ]
    assert picked(matcher, "the pothole one", reports) == "/request:B"
    assert picked(matcher, "the light", reports) == "/request:A"
    assert picked(matcher, "the one from december", reports) is None  # both are


@pytest.mark.parametrize("text", ["", "   ", "<script>alert(1)</script>", "x" * 5000, "🙂🙂"])
def test_empty_huge_and_hostile_answers_pick_nothing(matcher: ChoiceMatcher, text: str) -> None:
    assert picked(matcher, text, CONTACT) is None
    assert matcher.pick("yes", None, []) is None


def test_meaning_picks_when_no_word_does(runtime: Runtime) -> None:
    """With the real sentence encoder: a paraphrase of one choice, not of the others."""
    embedder = runtime.embedder
    matcher = ChoiceMatcher(Lexicon.build(runtime.catalogue), embedder.encode)
    articles = [
        Choice(title="Library opening hours", payload="/article:1"),
        Choice(title="Parking permits for residents", payload="/article:2"),
    ]
    text = "could you tell me what time is it open, the library"
    pick = matcher.pick(text, embedder.encode_one(text), articles)
    assert pick is not None and pick.choice == articles[0] and pick.how in ("word", "meaning")
    unrelated = "my neighbour's dog barks all night"
    assert matcher.pick(unrelated, embedder.encode_one(unrelated), articles) is None
