"""Figures for the dashboard, by SQL that runs the same on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from bot.storage.models import Conversation, Handoff, ServiceRequest, Turn

DAYS = 14


@dataclass
class Dashboard:
    days: list[date]
    per_day: dict[str, dict[date, int]]  # channel -> day -> conversations with a message
    conversations: int
    with_person: int
    top_intents: list[tuple[str, int]]
    requests_by_status: list[tuple[str, int]]
    waiting_handoffs: int
    alerts: int = 0  # conversations triage flagged as an emergency or a crisis in the period
    open_alerts: int = 0  # ... whose handoff is still open

    @property
    def containment(self) -> float | None:
        """Share of conversations the bot handled without handing them to a person."""
        if not self.conversations:
            return None
        return 1 - self.with_person / self.conversations


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def dashboard(session: Session, today: date | None = None, days: int = DAYS) -> Dashboard:
    today = today or datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    day = func.date(Turn.created_at)
    rows = session.execute(
        select(day, Conversation.channel, func.count(distinct(Turn.conversation_id)))
        .join(Conversation, Conversation.id == Turn.conversation_id)
        .where(Turn.direction == "in", Turn.created_at >= since)
        .group_by(day, Conversation.channel)
    ).all()
    per_day: dict[str, dict[date, int]] = {}
    for value, channel, count in rows:
        per_day.setdefault(channel, {})[_day(value)] = count
    active = (
        select(Turn.conversation_id)
        .where(Turn.direction == "in", Turn.created_at >= since)
        .distinct()
        .scalar_subquery()
    )
    conversations = session.scalar(
        select(func.count(distinct(Turn.conversation_id))).where(
            Turn.direction == "in", Turn.created_at >= since
        )
    )
    with_person = session.scalar(
        select(func.count(distinct(Handoff.conversation_id))).where(
            Handoff.created_at >= since, Handoff.conversation_id.in_(active)
        )
    )
    intents = session.execute(
        select(Turn.intent, func.count())
        .where(Turn.direction == "in", Turn.created_at >= since, Turn.intent.is_not(None))
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
        with_person=with_person or 0,
        top_intents=[(name, count) for name, count in intents],
        requests_by_status=[(name, count) for name, count in statuses],
        waiting_handoffs=waiting or 0,
        alerts=alerts or 0,
        open_alerts=open_alerts or 0,
    )
