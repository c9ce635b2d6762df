"""What the interpreter reads from a message's form: questions as residents type them."""

from __future__ import annotations

import pytest

from bot.dialogue.understanding import Understanding, plainly_asks


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("whats the number for the library?", True),  # typed without the apostrophe
        ("When do you lot fix these things?", True),
        ("  how long will it take?  ", True),
        ("what a mess on the corner", False),  # no question mark
        ("the bin was not emptied?", False),  # no question word first
        ("whatsoever?", False),
        ("", False),
    ],
)
def test_a_question_by_its_form(text: str, asks: bool) -> None:
    assert plainly_asks(Understanding("ask_question", 0.5, text=text, raw_text=text)) is asks
