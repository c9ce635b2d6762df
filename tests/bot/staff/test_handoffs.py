"""Handoffs as staff work them: take, reply (transcript + notice), hand back."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from bot.staff import handoffs
from bot.staff.accounts import first_name
from bot.storage.db import Database
from bot.storage.models import Conversation, Handoff, Notice, Turn


def waiting(db: Database, channel: str = "telegram") -> int:
    with db.transaction() as session:
        conversation = Conversation(
            channel=channel, sender_key=uuid.uuid4().hex, state={}, prefs={}, status="handoff"
        )
        session.add(conversation)
        session.flush()
        session.add(Turn(conversation_id=conversation.id, direction="in", text="a person please"))
        handoff = Handoff(
            conversation_id=conversation.id, reason="asked for a person", reply_address="4242"
        )
        session.add(handoff)
        session.flush()
        return handoff.id


def test_take_reply_and_hand_back(db: Database) -> None:
    handoff_id = waiting(db)
    with db.transaction() as session:
        items = handoffs.inbox(session)
        assert any(i.handoff.id == handoff_id and i.last_text == "a person please" for i in items)
        handoffs.take(session, handoff_id, "ana")
        handoffs.take(session, handoff_id, "ana")  # again: no-op
    with db.transaction() as session:
        notice = handoffs.reply(session, handoff_id, "ana", "  Hello, this is Ana.\x07 ")
        assert (notice.channel, notice.address, notice.status) == ("telegram", "4242", "pending")
        assert notice.text == "Hello, this is Ana."
        assert notice.author == "Ana"  # a person answered: the resident sees who
        assert notice.signed_text == "Ana, city helpline: Hello, this is Ana."
    with db.transaction() as session:
        handoff = session.get(Handoff, handoff_id)
        turns = handoffs.transcript(session, handoff.conversation_id)
        assert [(t.direction, t.text) for t in turns][-1] == ("staff", "Hello, this is Ana.")
        goodbye = handoffs.hand_back(session, handoff_id, "ana")
        assert goodbye.address == "4242"
    with db.transaction() as session:
        handoff = session.get(Handoff, handoff_id)
        conversation = session.get(Conversation, handoff.conversation_id)
        assert (handoff.status, conversation.status) == ("closed", "bot")
        assert handoff.reply_address is None  # the address is not kept once done
        assert handoff.closed_at is not None
        texts = session.scalars(
            select(Notice.text).where(Notice.conversation_id == conversation.id)
        ).all()
        assert texts == ["Hello, this is Ana.", handoffs.HANDED_BACK]
        authors = session.scalars(
            select(Notice.author).where(Notice.conversation_id == conversation.id)
        ).all()
        assert authors == ["Ana", None]  # handing back is an automatic notice
        assert all(i.handoff.id != handoff_id for i in handoffs.inbox(session))


def test_one_agent_at_a_time(db: Database) -> None:
    handoff_id = waiting(db)
    with db.transaction() as session:
        handoffs.take(session, handoff_id, "ana")
    with (
        pytest.raises(handoffs.HandoffError, match="ana has already taken"),
        db.transaction() as session,
    ):
        handoffs.take(session, handoff_id, "ben")
    with pytest.raises(handoffs.HandoffError, match="ana is working"), db.transaction() as session:
        handoffs.reply(session, handoff_id, "ben", "hi")
    with pytest.raises(handoffs.HandoffError, match="ana is working"), db.transaction() as session:
        handoffs.hand_back(session, handoff_id, "ben")


@pytest.mark.parametrize(
    ("text", "problem"), [("", "write a reply"), (" \x00 ", "write a reply"), ("x" * 2001, "2000")]
)
def test_bad_replies_are_refused_and_nothing_is_written(
    db: Database, text: str, problem: str
) -> None:
    handoff_id = waiting(db)
    with db.transaction() as session:
        handoffs.take(session, handoff_id, "ana")
    with pytest.raises(handoffs.HandoffError, match=problem), db.transaction() as session:
        handoffs.reply(session, handoff_id, "ana", text)
    with db.transaction() as session:
        conversation_id = session.get(Handoff, handoff_id).conversation_id
        assert not session.scalars(
            select(Notice).where(Notice.conversation_id == conversation_id)
        ).all()


def test_reply_needs_a_taken_handoff(db: Database) -> None:
    handoff_id = waiting(db)
    with (
        pytest.raises(handoffs.HandoffError, match="take this conversation"),
        db.transaction() as session,
    ):
        handoffs.reply(session, handoff_id, "ana", "hello")
    with pytest.raises(handoffs.HandoffError, match="no handoff"), db.transaction() as session:
        handoffs.take(session, 10**9, "ana")


@pytest.mark.parametrize(
    ("name", "signed"),
    [
        ("maria", "Maria"),
        ("maria.lopez", "Maria"),
        ("maria.lopez@portalder.example", "Maria"),
        ("jo-anne_smith", "Jo-Anne"),
        ("m.lopez", "Lopez"),  # an initial is not a name to sign with
        ("agent7", "Agent7"),  # no word at all: the name as given
    ],
)
def test_staff_sign_with_their_first_name(name: str, signed: str) -> None:
    assert first_name(name) == signed
