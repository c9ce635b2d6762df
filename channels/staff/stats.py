"""Figures for the dashboard, by SQL that runs the same on SQLite and PostgreSQL.

Days are the city's days (its time zone, with summer time), so turns are put in days here
rather than by the database's date(), which knows only UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from bot.assistant import aware
from bot.storage.models import Conversation, Handoff, ServiceRequest, Turn

DAYS = 14
# The last outcomes that mean the bot did the job: an answer given, a request filed.
CONTAINED_ENDINGS = ("answered", "filed")
DONT_KNOW = "unanswered"  # the bot said "I don't know"


@dataclass
class Dashboard:
    days: list[date]
    per_day: dict[str, dict[date, int]]  # channel -> day -> conversations with a message
    conversations: int
    with_person: int
    contained: int  # ended answered or filed, with no person and no "I don't know"
    top_intents: list[tuple[str, int]]
    requests_by_status: list[tuple[str, int]]
    waiting_handoffs: int
    alerts: int = 0  # conversations triage flagged as an emergency or a crisis in the period
    open_alerts: int = 0  # ... whose handoff is still open

    @property
    def containment(self) -> float | None:
        """Share of conversations the bot saw through alone: answered or filed, no person,
        never "I don't know" (an off-topic or misread last message is not handled)."""
        if not self.conversations:
            return None
        return self.contained / self.conversations


def _per_day(
    session: Session, since: datetime, until: datetime, zone: ZoneInfo
) -> dict[str, dict[date, int]]:
    """Conversations with a resident message, per channel and city day."""
    rows = session.execute(
        select(Turn.created_at, Conversation.channel, Turn.conversation_id)
        .join(Conversation, Conversation.id == Turn.conversation_id)
        .where(Turn.direction == "in", Turn.created_at >= since, Turn.created_at < until)
        .distinct()
    ).all()
    seen: dict[str, dict[date, set[int]]] = {}
    for created, channel, conversation_id in rows:
        day = aware(created).astimezone(zone).date()
        seen.setdefault(channel, {}).setdefault(day, set()).add(conversation_id)
    return {c: {d: len(ids) for d, ids in days.items()} for c, days in seen.items()}


def _contained(session: Session, since: datetime, until: datetime, handed: set[int]) -> int:
    last: dict[int, str] = {}
    dont_know: set[int] = set()
    rows = session.execute(
        select(Turn.conversation_id, Turn.outcome)
        .where(Turn.created_at >= since, Turn.created_at < until, Turn.outcome.is_not(None))
        .order_by(Turn.id)
    )
    for conversation_id, outcome in rows:
        last[conversation_id] = outcome
        if outcome == DONT_KNOW:
            dont_know.add(conversation_id)
    return sum(
        1
        for conversation_id, outcome in last.items()
        if outcome in CONTAINED_ENDINGS
        and conversation_id not in dont_know
        and conversation_id not in handed
    )


def dashboard(
    session: Session,
    today: date | None = None,
    days: int = DAYS,
    zone: ZoneInfo | None = None,
) -> Dashboard:
    """The last ``days`` city days up to ``today`` (the city's today by default)."""
    zone = zone or ZoneInfo("UTC")
    today = today or datetime.now(zone).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, time.min, tzinfo=zone).astimezone(UTC)
    until = datetime.combine(today + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    per_day = _per_day(session, since, until, zone)
    active = (
        select(Turn.conversation_id)
        .where(Turn.direction == "in", Turn.created_at >= since, Turn.created_at < until)
        .distinct()
        .scalar_subquery()
    )
    conversations = session.scalar(
        select(func.count(distinct(Turn.conversation_id))).where(
            Turn.direction == "in", Turn.created_at >= since, Turn.created_at < until
        )
    )
    handed = set(
        session.scalars(
            select(Handoff.conversation_id).where(
                Handoff.created_at >= since, Handoff.conversation_id.in_(active)
            )
        )
    )
    intents = session.execute(
        select(Turn.intent, func.count())
        .where(
            Turn.direction == "in",
            Turn.created_at >= since,
            Turn.created_at < until,
            Turn.intent.is_not(None),
        )
        .group_by(Turn.intent)
        .order_by(func.count().desc(), Turn.intent)
        .limit(8)
    ).all()
    statuses = session.execute(
        select(ServiceRequest.status, func.count())
        .group_by(ServiceRequest.status)
        .order_by(ServiceRequest.status)
    ).all()
    waiting = session.scalar(
        select(func.count()).select_from(Handoff).where(Handoff.status == "waiting")
    )
    alerts = session.scalar(
        select(func.count()).select_from(Conversation).where(Conversation.alert_at >= since)
    )
    open_alerts = session.scalar(
        select(func.count(distinct(Handoff.conversation_id))).where(
            Handoff.alert.is_not(None), Handoff.status.in_(("waiting", "taken"))
        )
    )
    return Dashboard(
        days=[first + timedelta(days=i) for i in range(days)],
        per_day=per_day,
        conversations=conversations or 0,
        with_person=len(handed),
        contained=_contained(session, since, until, handed),
        top_intents=[(name, count) for name, count in intents],
        requests_by_status=[(name, count) for name, count in statuses],
        waiting_handoffs=waiting or 0,
        alerts=alerts or 0,
        open_alerts=open_alerts or 0,
    )
