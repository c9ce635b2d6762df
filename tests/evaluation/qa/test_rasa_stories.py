"""Rasa test stories read as our conversations: what maps, and what is reported as skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.qa.conversations import SuiteError, load_suite
from evaluation.qa.rasa_stories import AnnotationError, conversations, strip_annotations

PROJECT = Path(__file__).with_name("rasa_project")


def test_every_markup_form_is_read_with_offsets() -> None:
    text, entities = strip_annotations(
        "a [pot hole](service_type:pothole) on [Elm Street](street) near "
        '[the station]{"entity": "place", "value": "Central Station", "role": "near"}'
    )
    assert text == "a pot hole on Elm Street near the station"
    assert [(e.entity, e.value) for e in entities] == [
        ("service_type", "pothole"),
        ("street", "Elm Street"),
        ("place", "Central Station"),
    ]
    assert [text[e.start : e.end] for e in entities] == ["pot hole", "Elm Street", "the station"]


def test_plain_brackets_and_bad_markup() -> None:
    assert strip_annotations("nothing [here] at all") == ("nothing [here] at all", [])
    with pytest.raises(AnnotationError, match="bad entity markup"):
        strip_annotations('[x]{"entity": }')
    with pytest.raises(AnnotationError, match="without an entity"):
        strip_annotations('[x]{"value": "y"}')


def test_the_example_project_maps_turns_and_reports_the_rest() -> None:
    suite = {c.name: c for c in load_suite(PROJECT / "tests")}
    pothole = suite["report a pothole with its street"]
    assert pothole.steps == [
        {
            "user": "there is a pothole outside 12 Elm Street",
            "expect": {
                "intent": "report_problem",
                "entities": {"service_type": "pothole", "street": "12 Elm Street"},
            },
        }
    ]
    assert any("action report_form" in s for s in pothole.skipped_steps)
    assert any("active_loop" in s for s in pothole.skipped_steps)
    faq = suite["a question answered from the FAQ"]
    assert faq.steps[0]["expect"]["intent"] == "ask_question"  # retrieval intent -> ours
    assert suite["training-only story shape"].steps == []


def test_an_action_map_turns_actions_into_checks() -> None:
    stories = [
        {
            "story": "handoff",
            "steps": [
                {"user": "a human please", "intent": "talk_to_human"},
                {"action": "action_handoff"},
                {"action": "action_listen"},
            ],
        }
    ]
    [mapped] = conversations(Path("x.yml"), stories, {"action_handoff": {"handoff": True}})
    assert mapped.steps[0]["expect"] == {"intent": "talk_to_human", "handoff": True}
    assert mapped.skipped_steps == []
    [unmapped] = conversations(Path("x.yml"), stories)
    assert unmapped.skipped_steps == ["step 2: action action_handoff (no reply check mapped)"]


@pytest.mark.parametrize(
    ("stories", "message"),
    [
        ([{"story": "no steps"}], "needs a list of 'steps'"),
        (["just text"], "needs a list of 'steps'"),
        ([{"story": "s", "steps": ["hello"]}], "a step is a mapping"),
        ([{"story": "s", "steps": [{"user": '[x]{"entity": 1,}'}]}], "bad entity markup"),
    ],
)
def test_malformed_stories_are_refused_with_where(stories: list, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        conversations(Path("bad.yml"), stories)
