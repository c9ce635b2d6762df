"""The assistant's guarantees beyond single conversations: idempotency, ordering, privacy."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import select

from bot.assistant import InputTooLong
from bot.contract import InboundMessage
from bot.runtime import Runtime
from bot.storage.models import Conversation, Handoff, Turn
from tests.conftest import SATURDAY_MORNING, THURSDAY_MORNING


def message(sender: str, text: str, **extra: object) -> InboundMessage:
    return InboundMessage(channel="test", sender=sender, text=text, **extra)


def test_text_over_limit_raises_with_the_limit(runtime: Runtime) -> None:
    with pytest.raises(InputTooLong, match="4000"):
        runtime.assistant.handle(message("x", "a" * 4001))


def test_concurrent_messages_from_one_sender_are_serialised(runtime: Runtime) -> None:
    """Ten turns sent at once from one sender each see the one before: none is lost."""
    sender = uuid.uuid4().hex
    texts = [f"hello number {i}" for i in range(10)]
    threads = [
        threading.Thread(target=runtime.assistant.handle, args=(message(sender, t),)) for t in texts
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    key = runtime.hasher(f"test:{sender}")
    with runtime.db.sessions() as session:
        conversation = session.scalar(select(Conversation).where(Conversation.sender_key == key))
        turns = session.scalars(
            select(Turn).where(Turn.conversation_id == conversation.id).order_by(Turn.id)
        ).all()
    directions = [t.direction for t in turns]
    assert directions == ["in", "bot"] * 10  # strictly alternating: never interleaved
    assert sorted(t.text for t in turns if t.direction == "in") == sorted(texts)


def test_sender_is_stored_only_as_a_keyed_hash(runtime: Runtime) -> None:
    sender = "+12065550199"
    runtime.assistant.handle(message(sender, "hello"))
    with runtime.db.sessions() as session:
        keys = session.scalars(select(Conversation.sender_key)).all()
    assert runtime.hasher(f"test:{sender}") in keys
    assert not any(sender in key for key in keys)


def test_logs_carry_no_message_text_or_sender(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        runtime.assistant.handle(message("+12065550111", "my secret is swordfish"))
    assert "swordfish" not in caplog.text and "+12065550111" not in caplog.text
    assert "turn channel=test" in caplog.text


def test_same_message_id_from_another_channel_is_a_new_message(runtime: Runtime) -> None:
    mid = uuid.uuid4().hex
    first = runtime.assistant.handle(message("a", "hello", message_id=mid))
    other = runtime.assistant.handle(
        InboundMessage(
            channel="web", sender="a", text="what is the emergency number", message_id=mid
        )
    )
    assert first.intent == "greet" and other.intent == "ask_question"


@pytest.mark.parametrize(
    ("channel", "title", "summary"),
    [
        ("webchat", "Message me here", "we will message you here"),
        ("voice", "Text me at this number", "we will text you at this number"),
    ],
)
def test_updates_are_offered_in_the_channel_s_own_terms(
    runtime: Runtime, channel: str, title: str, summary: str
) -> None:
    sender = uuid.uuid4().hex
    handle = runtime.assistant.handle
    handle(InboundMessage(channel=channel, sender=sender, text="there is a pothole on Elm Street"))
    asked = handle(InboundMessage(channel=channel, sender=sender, text="it is very deep"))
    titles = [c.title for m in asked.messages for c in m.choices]
    assert title in titles, asked.text

    confirm = handle(InboundMessage(channel=channel, sender=sender, text="1"))
    assert summary in confirm.text


def _fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def test_a_person_outside_office_hours_says_when_and_offers_a_call_back(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.assistant, "clock", _fixed(SATURDAY_MORNING))
    sender = uuid.uuid4().hex
    reply = runtime.assistant.handle(message(sender, "can I talk to a real person"))
    assert reply.handoff and "on Monday at 8:30 am" in reply.text
    assert [c.title for c in reply.choices] == ["Call me back", "Leave a message"]
    assert "phone number" in runtime.assistant.handle(message(sender, "ring me back")).text
    noted = runtime.assistant.handle(message(sender, "it's 206 555 0142"))
    assert "+12065550142" in noted.text and "Monday" in noted.text
    key = runtime.hasher(f"test:{sender}")
    with runtime.db.sessions() as session:
        conversation = session.scalar(select(Conversation).where(Conversation.sender_key == key))
        handoff = session.scalar(select(Handoff).where(Handoff.conversation_id == conversation.id))
        assert handoff.status == "waiting" and "call back on +12065550142" in handoff.reason


def test_a_message_for_staff_outside_office_hours(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.assistant, "clock", _fixed(SATURDAY_MORNING))
    sender = uuid.uuid4().hex
    runtime.assistant.handle(message(sender, "I need to speak to someone"))
    asked = runtime.assistant.handle(message(sender, "I'll leave a message"))
    assert "write your message" in asked.text
    noted = runtime.assistant.handle(message(sender, "my neighbour's hedge blocks the path"))
    assert "your message is with our staff" in noted.text and "Monday" in noted.text


def test_a_person_in_office_hours_and_never_mind_withdraws_the_handoff(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.assistant, "clock", _fixed(THURSDAY_MORNING))
    sender = uuid.uuid4().hex
    reply = runtime.assistant.handle(message(sender, "talk to a person"))
    assert reply.handoff and "as soon as they can" in reply.text and not reply.choices
    back = runtime.assistant.handle(message(sender, "never mind"))
    assert "no longer wait" in back.text
    key = runtime.hasher(f"test:{sender}")
    with runtime.db.sessions() as session:
        conversation = session.scalar(select(Conversation).where(Conversation.sender_key == key))
        handoff = session.scalar(select(Handoff).where(Handoff.conversation_id == conversation.id))
        assert conversation.status == "bot"
        assert (handoff.status, handoff.reply_address) == ("closed", None)
        assert "withdrawn" in handoff.reason


def test_own_reports_are_listed_by_type_place_and_date(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.assistant, "clock", _fixed(THURSDAY_MORNING))
    sender = uuid.uuid4().hex
    for text in [
        "the street light outside 12 Elm Street is out",
        "it's been dark for a week",
        "text me",
        "yes please",
        "there's a pothole on Maple Drive",
        "deep enough to lose a wheel in",
        "text me",
        "yes please",
    ]:
        reply = runtime.assistant.handle(message(sender, text))
    assert reply.filed_reference
    listed = runtime.assistant.handle(message(sender, "how are my reports getting on"))
    titles = sorted(c.title for c in listed.choices)
    assert titles == [
        "Pothole, Maple Drive, 3 December",
        "Street light out, 12 Elm Street, 3 December",
    ]
