"""The dashboard's figures, from SQL that must run the same on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from bot.storage.db import Database
from bot.storage.models import Conversation, Handoff, ServiceRequest, Turn
from channels.staff.stats import dashboard

TODAY = date(2026, 3, 14)


def conversation(db: Database, channel: str, days_ago: int, intents: list[str], person: bool):
    when = datetime(2026, 3, 14, 12, tzinfo=UTC) - timedelta(days=days_ago)
    with db.transaction() as session:
        row = Conversation(channel=channel, sender_key=uuid.uuid4().hex, state={}, prefs={})
        session.add(row)
        session.flush()
        for intent in intents:
            session.add(
                Turn(conversation_id=row.id, direction="in", intent=intent, created_at=when)
            )
            session.add(Turn(conversation_id=row.id, direction="bot", created_at=when))
        if person:
            session.add(Handoff(conversation_id=row.id, created_at=when))


def test_figures(db: Database) -> None:
    conversation(db, "web", 0, ["ask_question", "ask_question"], person=False)
    conversation(db, "web", 0, ["greet", "talk_to_human"], person=True)
    conversation(db, "sms", 1, ["ask_question"], person=False)
    conversation(db, "telegram", 20, ["ask_question"], person=True)  # outside the 14 days
    with db.transaction() as session:
        for status in ("submitted", "submitted", "closed"):
            session.add(
                ServiceRequest(service_code="pothole", status=status, channel="web", fields={})
            )
    with db.sessions() as session:
        figures = dashboard(session, today=TODAY)
    assert figures.days[0] == TODAY - timedelta(days=13) and figures.days[-1] == TODAY
    assert figures.per_day == {"web": {TODAY: 2}, "sms": {TODAY - timedelta(days=1): 1}}
    assert (figures.conversations, figures.with_person) == (3, 1)
    assert abs(figures.containment - 2 / 3) < 1e-9
    assert figures.top_intents[0] == ("ask_question", 3)
    assert dict(figures.requests_by_status) == {"closed": 1, "submitted": 2}
    assert figures.waiting_handoffs == 2
