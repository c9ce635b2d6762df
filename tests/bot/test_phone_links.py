"""Phone numbers in replies become tel: links; digits that are something else stay text."""

from __future__ import annotations

import pytest

from bot.contract import OutboundMessage, text_parts
from bot.phone_links import phone_spans


def linked(text: str) -> list[tuple[str, str]]:
    return [(text[s.start : s.end], s.tel) for s in phone_spans(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("In an emergency, call 911 at once.", [("911", "tel:911")]),
        ("Call 311, or 988 for the crisis line.", [("311", "tel:311"), ("988", "tel:988")]),
        ("the 311 line is 555-0311.", [("311", "tel:311"), ("555-0311", "tel:5550311")]),
        ("Phone the office on (555) 010-2030.", [("(555) 010-2030", "tel:+15550102030")]),
        ("or +1 555 010 2030 from abroad", [("+1 555 010 2030", "tel:+15550102030")]),
        ("call 206-555-0142 ext. 12", [("206-555-0142 ext. 12", "tel:+12065550142;ext=12")]),
        ("ring 2065550142 today", [("2065550142", "tel:+12065550142")]),
        ("+44 20 7946 0958", [("+44 20 7946 0958", "tel:+442079460958")]),
    ],
)
def test_numbers_to_call(text: str, expected: list) -> None:
    assert linked(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Your reference number is REQ-2026-000123.",
        "REQ2026000123",
        "Report 2026-000123 is finished.",
        "Pothole at 311 Elm Street, Harbourside.",
        "The office is at 911 N Harbour Rd.",
        "Go to room 311 on floor 2.",
        "It costs $911, about 311 dollars.",
        "Updated on 2026-12-03 at 5:30.",
        "Bus 311 stops here; the code is 1234567.",
        "Open 8:30 to 5, 1 November to 31 March.",
        "3110 and 9110 and 311.5",
    ],
)
def test_digits_that_are_not_numbers_to_call(text: str) -> None:
    assert linked(text) == []


def test_parts_join_back_to_the_text_and_survive_hostile_input() -> None:
    for text in ["", "911", "<b>call 911</b> & 555-0131\n\nbye", "9" * 5000, "311 " * 300]:
        parts = text_parts(text)
        assert "".join(p.text for p in parts) == text
    message = OutboundMessage(text="Call 911 now.").model_dump()
    assert message["parts"] == [
        {"text": "Call ", "tel": None},
        {"text": "911", "tel": "tel:911"},
        {"text": " now.", "tel": None},
    ]
