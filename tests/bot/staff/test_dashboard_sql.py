"""The dashboard's figures, from SQL that must run the same on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.storage.db import Database
from bot.storage.models import Conversation, Handoff, ServiceRequest, Turn
from channels.staff.stats import dashboard

TODAY = date(2026, 3, 14)


def conversation(
    db: Database,
    channel: str,
    days_ago: int,
    intents: list[str],
    person: bool,
    outcomes: list[str | None] | None = None,
    hour: int = 12,
) -> None:
    when = datetime(2026, 3, 14, hour, tzinfo=UTC) - timedelta(days=days_ago)
    outcomes = outcomes or [None] * len(intents)
    with db.transaction() as session:
        row = Conversation(channel=channel, sender_key=uuid.uuid4().hex, state={}, prefs={})
        session.add(row)
        session.flush()
        for intent, outcome in zip(intents, outcomes, strict=True):
            session.add(
                Turn(conversation_id=row.id, direction="in", intent=intent, created_at=when)
            )
            session.add(
                Turn(conversation_id=row.id, direction="bot", outcome=outcome, created_at=when)
            )
        if person:
            session.add(Handoff(conversation_id=row.id, created_at=when))


def test_figures(db: Database) -> None:
    conversation(
        db, "web", 0, ["ask_question", "ask_question"], False, ["unanswered", "answered"]
    )  # an "I don't know" on the way: not contained
    conversation(db, "web", 0, ["greet", "talk_to_human"], True, [None, "handoff"])
    conversation(db, "sms", 1, ["ask_question"], False, ["answered"])
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
    assert figures.contained == 1 and abs(figures.containment - 1 / 3) < 1e-9
    assert figures.top_intents[0] == ("ask_question", 3)
    assert dict(figures.requests_by_status) == {"closed": 1, "submitted": 2}
    assert figures.waiting_handoffs == 2


def test_containment_counts_only_answered_or_filed_endings(db: Database) -> None:
    today = date(2026, 4, 20)
    days_ago = (TODAY - today).days  # negative: these are after test_figures' day
    cases = [
        (["report_problem", "affirm"], ["form", "filed"]),  # filed: contained
        (["ask_question", "thank"], ["answered", None]),  # answered, then thanks: contained
        (["ask_question"], ["out_of_scope"]),  # off topic: not handled
        (["ask_question"], ["not_understood"]),  # misread: not handled
        (["report_problem"], ["form"]),  # left mid-form: abandoned
    ]
    for intents, outcomes in cases:
        conversation(db, "web", days_ago, intents, False, outcomes)
    with db.sessions() as session:
        figures = dashboard(session, today=today, days=1)
    assert (figures.conversations, figures.contained) == (5, 2)


def test_days_are_the_city_s_days(db: Database) -> None:
    la = ZoneInfo("America/Los_Angeles")
    today = date(2026, 5, 10)
    # 03:00 UTC on 11 May is 20:00 on 10 May in Los Angeles (summer time, UTC-7)
    conversation(db, "telegram", (TODAY - today).days - 1, ["greet"], False, hour=3)
    with db.sessions() as session:
        city = dashboard(session, today=today, days=1, zone=la)
        utc = dashboard(session, today=today, days=1)
    assert city.per_day == {"telegram": {today: 1}}
    assert utc.per_day == {}
