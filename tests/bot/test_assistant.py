"""The assistant's guarantees beyond single conversations: idempotency, ordering, privacy."""

from __future__ import annotations

import logging
import threading
import uuid

import pytest
from sqlalchemy import select

from bot.assistant import InputTooLong
from bot.contract import InboundMessage
from bot.runtime import Runtime
from bot.storage.models import Conversation, Turn


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
