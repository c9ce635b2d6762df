"""Emergency and crisis triage: the detector on phrasings of its own, and the assistant's turn.

The held-out figures are a benchmark (python -m evaluation.benchmarks.triage); these check
behaviour on
a few varied phrasings written for these tests, none from either data file.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from bot.contract import InboundMessage, Reply
from bot.runtime import Runtime
from bot.storage.models import Conversation, Handoff
from bot.triage import (
    CRISIS,
    DATA,
    EMERGENCY,
    Lines,
    Triage,
    choose_threshold,
    cue,
    load_examples,
    prepare_triage,
)
from tests.conftest import ROOT

HELDOUT = sorted((ROOT / "evaluation" / "data").glob("triage_heldout*.yml"))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("my uncle keeled over at the dinner table and his lips are going blue", EMERGENCY),
        ("QUICK theres a fire in the laundrette and the owner is still in there", EMERGENCY),
        ("the whole landing reeks of gas, my eyes are stinging", EMERGENCY),
        ("a man with a hammer is smashing his way into the flat next door", EMERGENCY),
        ("a little lad has slipped into the harbour by the ferry steps", EMERGENCY),
        ("storm brought the electric cables down on our car and they're fizzing", EMERGENCY),
        ("granny took too many of her heart tablets and she's really drowsy", EMERGENCY),
        ("i've had enough. tonight i'm going to finish it for good", CRISIS),
        ("my mate keeps saying he'd be better off dead and he's not answering his phone", CRISIS),
    ],
)
def test_emergencies_and_crises_in_residents_words(runtime: Runtime, text: str, kind: str) -> None:
    alert = runtime.triage.assess(text)
    assert alert is not None and alert.kind == kind, (text, alert)


@pytest.mark.parametrize(
    "text",
    [
        "what is the emergency number?",
        "how do I report a gas bill problem",
        "the fire hydrant on my road has been painted pink",
        "one of the street lights on Castle Street is out",
        "there's a leak in the street by the post office",
        "the people upstairs are so noisy at night",
        "a fallen branch on the road near the school",
        "a big pothole on Harbour Street",
        "theres a dead cat by the bus stop",
        "they missed my recycling bin this week",
        "the power is off on our street",
    ],
)
def test_ordinary_messages_raise_no_alert(runtime: Runtime, text: str) -> None:
    assert runtime.triage.assess(text) is None, text


def test_the_turns_features_give_the_same_alert_as_a_fresh_encoding(runtime: Runtime) -> None:
    text = "my neighbour is lying on the stairs and not breathing"
    features = runtime.embedder.features_one(text)
    with_features, fresh = runtime.triage.assess(text, features), runtime.triage.assess(text)
    assert with_features is not None and fresh is not None
    assert (with_features.kind, with_features.detail) == (fresh.kind, fresh.detail)
    with pytest.raises(ValueError, match=r"Embedder\.features"):
        runtime.triage.assess(text, features[:384])


@pytest.mark.parametrize("text", [None, "", "   "])
def test_empty_text_raises_no_alert(runtime: Runtime, text: str | None) -> None:
    assert runtime.triage.assess(text) is None


def test_the_backstop_cue_holds_back_questions_and_what_is_over() -> None:
    assert cue("what do i do my dad isnt breathing") == "medical"
    assert cue("someone is kicking in my door") == "violence"
    assert cue("what should i do if someone is choking") is None
    assert cue("my car was broken into last night") is None
    assert cue("smoke from a bonfire every weekend") is None


def test_the_threshold_is_the_cheapest_on_validation_with_misses_ten_times_worse() -> None:
    held = np.array([0.9, 0.6, 0.3, 0.7, 0.2, 0.1])
    alerting = np.array([True, True, True, False, False, False])
    threshold, floor, chosen = choose_threshold(held, alerting, np.zeros(6, bool))
    assert threshold == 0.21  # keeps the 0.3 emergency, pays one false alarm (0.7): the lowest
    assert floor == 0.0 and chosen["recall"] == 1.0
    assert chosen["false_alarm_rate"] == pytest.approx(1 / 3)


def test_a_cue_counts_only_above_the_floor_that_validation_chose() -> None:
    """An idiom matching a cue ("drowning in bills") scores near zero; a real cue does not."""
    held = np.array([0.9, 0.12, 0.01, 0.02, 0.2])
    alerting = np.array([True, True, False, False, False])
    cued = np.array([False, True, True, True, False])
    threshold, floor, chosen = choose_threshold(held, alerting, cued)
    assert 0.02 < floor <= 0.12 and threshold > 0.2
    assert chosen["recall"] == 1.0 and chosen["false_alarm_rate"] == 0.0


@pytest.mark.parametrize("heldout", HELDOUT, ids=lambda p: p.stem)
def test_training_data_is_big_enough_and_apart_from_the_held_out_sets(heldout: Path) -> None:
    train, held = load_examples(DATA), load_examples(heldout)
    alerting = sum(1 for _, k in train if k not in ("report", "question", "chat"))
    assert alerting >= 400 and len(train) - alerting >= 400
    assert len(held) >= 200
    assert not {t.lower() for t, _ in train} & {t.lower() for t, _ in held}


def test_bad_training_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "triage.yml"
    path.write_text("kinds:\n  tornado:\n    - a funnel cloud\n")
    with pytest.raises(ValueError, match="unknown kind 'tornado'"):
        load_examples(path)
    path.write_text("kinds:\n  chat:\n    - yes\n")  # YAML reads a bare yes as True
    with pytest.raises(ValueError, match="not a message"):
        load_examples(path)


def test_the_saved_model_is_reused_and_answers_the_same(runtime: Runtime, tmp_path: Path) -> None:
    data = tmp_path / "triage.yml"
    data.write_text(
        "kinds:\n  fire:\n"
        + "".join(f"    - the house at number {i} is on fire\n" for i in range(6))
        + "  chat:\n"
        + "".join(f"    - what time does office {i} open\n" for i in range(6))
    )
    first = prepare_triage(runtime.embedder, tmp_path, data)
    again = prepare_triage(runtime.embedder, tmp_path, data)
    assert isinstance(again, Triage) and again.threshold == first.threshold
    text = "the house at number 40 is on fire"
    assert first.assess(text) == again.assess(text)


def test_lines_come_from_the_city_config_and_settings_override_them(tmp_path: Path) -> None:
    assert Lines.load() == Lines("911", "988")
    city = tmp_path / "city.yml"
    city.write_text("emergency: {number: '112', crisis_line: '116 123'}\n")
    assert Lines.load(city) == Lines("112", "116 123")
    assert Lines.load(city, emergency="999") == Lines("999", "116 123")


# -- the assistant's turn ------------------------------------------------------------------------
def say(runtime: Runtime, sender: str, text: str, channel: str = "web") -> Reply:
    return runtime.assistant.handle(InboundMessage(channel=channel, sender=sender, text=text))


def test_an_emergency_interrupts_a_report_and_keeps_it(runtime: Runtime) -> None:
    sender = uuid.uuid4().hex
    say(runtime, sender, "there is a big pothole on Elm Street")
    reply = say(runtime, sender, "oh god a car just hit a cyclist and he's not moving")
    first, kept = reply.messages
    assert reply.alert == EMERGENCY and first.alert == EMERGENCY
    assert first.text == "If someone is in danger right now, call 911."
    assert first.speech and "hang up and call 9 1 1" in first.speech
    assert "kept your report" in kept.text and "describe the problem" in kept.text
    assert not reply.filed_reference
    back = say(runtime, sender, "it is about a foot wide and deep")  # the report goes on
    assert back.alert is None and "911" not in back.text


def test_a_crisis_gets_the_crisis_line_and_the_offer_of_a_person(runtime: Runtime) -> None:
    reply = say(runtime, uuid.uuid4().hex, "I want to end it all tonight")
    first, offer = reply.messages
    assert reply.alert == CRISIS and "988" in first.text and "911" in first.text
    assert [c.title for c in offer.choices] == ["Talk to a person"]
    assert not reply.messages[-1].ends_conversation


@pytest.mark.parametrize(
    ("text", "kind", "first_line"),
    [
        ("ya no quiero vivir, lo siento", CRISIS, "llame o envíe un mensaje al 988"),
        ("por favor mi abuela no respira", EMERGENCY, "Si alguien está en peligro"),
        ("hay humo y un incendio en el pasillo", EMERGENCY, "Si alguien está en peligro"),
        ("我真的活不下去了", CRISIS, "请现在拨打或发短信到 988"),
        ("快来 楼下失火了", EMERGENCY, "请立即拨打 911"),
        ("我爸爸晕倒了 叫救護車", EMERGENCY, "请立即拨打 911"),
    ],
)
def test_spanish_and_chinese_get_the_number_in_their_language(
    runtime: Runtime, text: str, kind: str, first_line: str
) -> None:
    """The classifier knows only English (issue 14): cues in the resident's language."""
    reply = say(runtime, uuid.uuid4().hex, text)
    assert reply.alert == kind, (text, reply.text)
    own, english = reply.messages[0].text.split("\n", 1)  # their language first
    assert first_line in own and "call" in english


@pytest.mark.parametrize(
    "text",
    ["the Fuego Grill on Quay Street does great tacos", "is Socorro Street one way?", "我想死你了"],
)
def test_names_and_idioms_in_the_foreign_cues_raise_no_alert(runtime: Runtime, text: str) -> None:
    assert runtime.triage.assess(text) is None, text


def test_an_emergency_while_waiting_for_staff_still_gets_the_number_first(runtime: Runtime) -> None:
    sender = uuid.uuid4().hex
    assert say(runtime, sender, "I want to talk to a person").handoff
    reply = say(runtime, sender, "my wife has collapsed and she wont wake up")
    assert reply.messages[0].text.startswith("If someone is in danger right now, call 911.")
    key = runtime.hasher(f"web:{sender}")
    with runtime.db.sessions() as session:
        conversation = session.scalar(select(Conversation).where(Conversation.sender_key == key))
        handoffs = session.scalars(
            select(Handoff).where(Handoff.conversation_id == conversation.id)
        ).all()
    assert conversation.alert == EMERGENCY
    assert [h.alert for h in handoffs] == [EMERGENCY]  # the open handoff now carries the flag


def test_a_question_about_emergencies_is_answered_from_the_article(runtime: Runtime) -> None:
    reply = say(runtime, uuid.uuid4().hex, "What is the emergency number?")
    assert reply.alert is None and reply.intent == "ask_question"
    assert "911" in reply.text and reply.messages[0].source is not None


def test_payloads_and_keys_are_not_triaged(runtime: Runtime) -> None:
    sender = uuid.uuid4().hex
    say(runtime, sender, "there is a pothole on Elm Street")
    assert say(runtime, sender, "/cancel").alert is None
    assert say(runtime, sender, "2").alert is None


def test_the_alert_is_the_same_on_a_retried_message(runtime: Runtime) -> None:
    message = InboundMessage(channel="sms", sender="+15005550123", text="i smell gas in my flat")
    first = runtime.assistant.handle(message)
    again = runtime.assistant.handle(message)
    assert first.alert == again.alert == EMERGENCY and first == again
