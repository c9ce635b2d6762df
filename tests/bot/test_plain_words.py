"""bot/plain_words: every code staff read, in words; a pressed button by its title."""

from __future__ import annotations

from bot import plain_words
from bot.service_requests import STATUSES

ARTICLES = {37: "Bulky waste collection"}
pressed = plain_words.PressedTitles({"pothole": "Pothole"}, ARTICLES.get)


def test_payloads_read_as_the_buttons_the_resident_pressed() -> None:
    assert pressed("/details:37") == "More details: Bulky waste collection"
    assert pressed("/article:37") == "Bulky waste collection"
    assert pressed("/details:99") == "More details: an article no longer in the knowledge base"
    assert pressed("/contact:channel") == "Message me here"
    assert pressed("/contact:channel", "voice") == "Text me at this number"
    assert pressed("/affirm") == "Yes" and pressed("/deny") == "No"
    assert pressed("/talk_to_human") == "Talk to a person"
    assert pressed("/service:pothole") == "Pothole"
    assert pressed("/change:place") == "Place"
    assert pressed("/drop:yes") == "Yes, drop it"
    assert pressed("/field:size=large") == "Large"
    assert pressed("/pick_place:0") == "Place 1 of those offered"
    assert pressed("/made_up_thing") == "Made up thing"


def test_typed_text_is_left_as_it_was() -> None:
    for text in ("there is a pothole", "/ not a payload", "", "1/2 of the road"):
        assert pressed(text) == text


def test_codes_in_words() -> None:
    assert plain_words.request_status("in_progress") == "in progress"
    assert all("_" not in plain_words.request_status(s) for s in STATUSES)
    assert plain_words.intent("affirm") == "yes"
    assert plain_words.intent("contact") == "how to be contacted"
    assert plain_words.intent("some_new_intent") == "some new intent"
    assert plain_words.contact("channel") == "on their channel"
    assert plain_words.channel("voice") == "phone call"
    assert plain_words.intent(None) == ""
