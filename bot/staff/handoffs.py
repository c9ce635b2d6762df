"""Handoffs as staff work them: take one, reply as staff, hand the conversation back to the bot.

Every staff reply is a ``Turn(direction="staff")`` in the transcript and a ``Notice`` for the
resident's channel; the channel layer sends the notice (or leaves it pending when the channel
is not configured).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.contract import clean_text
from bot.staff.accounts import first_name
from bot.storage.models import Conversation, Handoff, Notice, Turn, utcnow

MAX_REPLY_CHARS = 2000
OPEN = ("waiting", "taken")
HANDED_BACK = (
    "The member of staff has finished. You are talking to the city's assistant again: "
    "ask a question or report a problem at any time."
)


class HandoffError(ValueError):
    """The handoff cannot be worked that way (the message is for staff)."""


@dataclass(frozen=True)
class InboxItem:
    handoff: Handoff
    conversation: Conversation
    last_text: str


def inbox(session: Session, include_taken: bool = True) -> list[InboxItem]:
    """Open handoffs, each with what the resident said last: emergencies and crises that
    triage flagged first (bot/triage.py), then the oldest waiting."""
    statuses = ("waiting", "taken") if include_taken else ("waiting",)
    rows = session.execute(
        select(Handoff, Conversation)
        .join(Conversation, Conversation.id == Handoff.conversation_id)
        .where(Handoff.status.in_(statuses))
        .order_by(Handoff.alert.is_(None), Handoff.created_at, Handoff.id)
    ).all()
    items = []
    for handoff, conversation in rows:
        last = session.scalar(
            select(Turn.text)
            .where(Turn.conversation_id == conversation.id, Turn.direction == "in")
            .order_by(Turn.id.desc())
            .limit(1)
        )
        items.append(InboxItem(handoff, conversation, last or ""))
    return items


def get(session: Session, handoff_id: int, *, lock: bool = False) -> Handoff:
    query = select(Handoff).where(Handoff.id == handoff_id)
    handoff = session.scalar(query.with_for_update() if lock else query)
    if handoff is None:
        raise HandoffError(f"there is no handoff {handoff_id}")
    return handoff


def transcript(session: Session, conversation_id: int, limit: int = 200) -> list[Turn]:
    """The newest turns of a conversation, oldest first."""
    turns = session.scalars(
        select(Turn)
        .where(Turn.conversation_id == conversation_id)
        .order_by(Turn.id.desc())
        .limit(limit)
    )
    return list(reversed(list(turns)))


def take(session: Session, handoff_id: int, actor: str, now: datetime | None = None) -> Handoff:
    """Claim a waiting handoff; taking one you already have is a no-op."""
    handoff = get(session, handoff_id, lock=True)
    if handoff.status == "taken" and handoff.taken_by == actor:
        return handoff
    if handoff.status == "taken":
        raise HandoffError(f"{handoff.taken_by} has already taken this conversation")
    if handoff.status != "waiting":
        raise HandoffError("this conversation was already handed back to the bot")
    handoff.status = "taken"
    handoff.taken_by = actor
    handoff.taken_at = now or utcnow()
    session.flush()
    return handoff


def _own(session: Session, handoff_id: int, actor: str) -> tuple[Handoff, Conversation]:
    handoff = get(session, handoff_id, lock=True)
    if handoff.status != "taken":
        raise HandoffError("take this conversation before replying or handing it back")
    if handoff.taken_by != actor:
        raise HandoffError(f"{handoff.taken_by} is working on this conversation")
    conversation = session.get(Conversation, handoff.conversation_id)
    assert conversation is not None
    return handoff, conversation


def _notice(
    handoff: Handoff,
    conversation: Conversation,
    text: str,
    now: datetime,
    author: str | None = None,
) -> Notice:
    return Notice(
        conversation_id=conversation.id,
        channel=conversation.channel,
        address=handoff.reply_address,
        text=text,
        author=author,
        status="pending",
        created_at=now,
    )


def reply(
    session: Session, handoff_id: int, actor: str, text: str, now: datetime | None = None
) -> Notice:
    """A staff message to the resident: kept in the transcript and queued for their channel,
    signed with the writer's first name so the resident knows a person answered."""
    text = clean_text(text or "")
    if not text:
        raise HandoffError("write a reply before sending it")
    if len(text) > MAX_REPLY_CHARS:
        raise HandoffError(f"a reply may have at most {MAX_REPLY_CHARS} characters")
    handoff, conversation = _own(session, handoff_id, actor)
    now = now or utcnow()
    session.add(Turn(conversation_id=conversation.id, direction="staff", text=text, created_at=now))
    notice = _notice(handoff, conversation, text, now, author=first_name(actor))
    session.add(notice)
    session.flush()
    return notice


def hand_back(session: Session, handoff_id: int, actor: str, now: datetime | None = None) -> Notice:
    """Give the conversation back to the bot, tell the resident, and forget their address."""
    handoff, conversation = _own(session, handoff_id, actor)
    now = now or utcnow()
    conversation.status = "bot"
    notice = _notice(handoff, conversation, HANDED_BACK, now)
    session.add(notice)
    session.add(
        Turn(conversation_id=conversation.id, direction="staff", text=HANDED_BACK, created_at=now)
    )
    handoff.status = "closed"
    handoff.closed_at = now
    handoff.reply_address = None
    session.flush()
    return notice


def open_handoff(session: Session, conversation_id: int) -> Handoff | None:
    """The conversation's handoff still waiting for, or being worked by, staff."""
    return session.scalar(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN))
        .order_by(Handoff.id.desc())
        .limit(1)
    )


def withdraw(session: Session, conversation: Conversation, now: datetime) -> None:
    """The resident no longer waits ("never mind"): the bot takes the conversation back."""
    conversation.status = "bot"
    for handoff in session.scalars(
        select(Handoff).where(Handoff.conversation_id == conversation.id, Handoff.status.in_(OPEN))
    ):
        handoff.status = "closed"
        handoff.closed_at = now
        handoff.reason = f"{handoff.reason}; withdrawn by the resident"[:200]
        handoff.reply_address = None
