"""Upset residents: anger, exasperation, the same message again."""

from __future__ import annotations

import pytest

from bot.dialogue.mood import digest, upset


@pytest.mark.parametrize(
    "text",
    [
        "This is ridiculous!!! I've reported this THREE times",
        "WHY IS NOBODY FIXING THIS",
        "third time I'm asking, the light is still not fixed",
        "fed up with this useless service",
        "I have had enough of waiting",
    ],
)
def test_upset(text: str) -> None:
    assert upset(text, None)


@pytest.mark.parametrize(
    "text",
    [
        "the street light outside my house doesn't work",
        "status of REQ-2026-000001 please",
        "my SMS said the pothole was fixed",
        "there is a pothole on Elm Street!",
        "",
        None,
    ],
)
def test_not_upset(text: str | None) -> None:
    assert not upset(text, None)


def test_the_same_message_again_is_a_repeat() -> None:
    first = "how do I get a parking permit"
    assert upset("How do I get a parking permit?", digest(first))
    assert not upset("yes", digest("yes"))  # a short answer said twice is just an answer
    assert not upset("how do I pay a parking fine", digest(first))
