"""Data the console tests work on: articles, requests and handoffs of their own."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from bot import service_requests
from bot.runtime import Runtime
from bot.storage.models import Conversation, Handoff, OutboxMessage, ServiceRequest, Turn
from knowledge.models import UnansweredQuestion

# Topics no demo article covers and far apart in meaning, one per test, so that articles the
# tests create never answer each other's questions.
TOPICS = {
    "glowworms": ("Glowworm walk", "When is the glowworm walk?", "Where can I see glowworms?"),
    "chess": ("Chess club", "Is there a chess club for seniors?", "Where can I play chess?"),
    "rowing": ("Rowing boats", "Can I hire a rowing boat?", "How much is a rowing boat?"),
    "choir": ("Community choir", "How do I join the city choir?", "When does the choir sing?"),
    "skating": ("Ice rink", "When does the ice rink open?", "Can I rent skates at the rink?"),
    "pottery": ("Pottery classes", "Are there pottery classes?", "Where can I learn pottery?"),
    "beehives": ("Beehives", "Do I need a permit for a beehive?", "Can I keep bees?"),
}


def article_fields(topic: str, **overrides: Any) -> dict[str, Any]:
    """A valid article (as the console form posts it) on one of TOPICS."""
    title, first, second = TOPICS[topic]
    tag = uuid.uuid4().hex[:6]
    fields = {
        "slug": f"{topic}-{tag}",
        "title": f"{title} {tag}",
        "short_answer": f"{title}: ask at the Civic Centre front desk ({tag}).",
        "answer": f"{title}. The Civic Centre front desk has the details and the forms.",
        "questions": f"{first}\n{second}",
        "category": "leisure",
        "department": "Culture Office",
        "language": "en",
        "source_url": "https://www.portalder.example/leisure",
        "status": "published",
    }
    fields.update(overrides)
    return fields


def file_request(runtime: Runtime, channel: str = "web", address: str | None = None) -> str:
    with runtime.db.transaction() as session:
        request = ServiceRequest(
            service_code="pothole",
            description="Deep pothole by the bus stop",
            address="12 Elm Street",
            street="Elm Street",
            district="Northgate",
            fields={},
            contact_preference="channel",
            channel=channel,
            reply_address=address or f"resident-{uuid.uuid4().hex}",
        )
        service_requests.file_request(session, request, actor="test")
        return request.reference or ""


def dead_request(runtime: Runtime) -> tuple[str, int]:
    """A filed request whose delivery gave up, dead in the same transaction that filed it
    (so a dispatcher running in the app cannot deliver it first): (reference, outbox id)."""
    with runtime.db.transaction() as session:
        request = ServiceRequest(
            service_code="pothole",
            description="Pothole the back office refused",
            contact_preference="none",
            channel="web",
            fields={},
        )
        service_requests.file_request(session, request, actor="test")
        row = session.scalars(select(OutboxMessage).filter_by(request_id=request.id)).one()
        row.status, row.attempts, row.last_error = "dead", 10, "open311: HTTP 503"
        return request.reference or "", row.id


def counts(runtime: Runtime) -> tuple[int, ...]:
    """Rows that a dry run must not add."""
    with runtime.db.sessions() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Conversation, Turn, Handoff, ServiceRequest, UnansweredQuestion)
        )
