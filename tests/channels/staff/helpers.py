"""Data the console tests work on: articles, requests and handoffs of their own."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from bot import service_requests
from bot.runtime import Runtime
from bot.storage.models import Conversation, Handoff, ServiceRequest, Turn
from knowledge.models import UnansweredQuestion


def article_fields(**overrides: Any) -> dict[str, Any]:
    """A valid article about a made-up topic that no demo article covers."""
    word = uuid.uuid4().hex[:6]
    fields = {
        "slug": f"glowworm-{word}",
        "title": f"Glowworm festival {word}",
        "short_answer": f"The glowworm festival {word} is on the first Friday of June.",
        "answer": "The glowworm festival is a free evening walk in Alder Park with the rangers.",
        "questions": f"When is the glowworm festival {word}?\nWhere can I see glowworms {word}?",
        "category": "parks",
        "department": "Parks Department",
        "language": "en",
        "source_url": "https://www.portalder.example/parks/glowworms",
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


def counts(runtime: Runtime) -> tuple[int, ...]:
    """Rows that a dry run must not add."""
    with runtime.db.sessions() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Conversation, Turn, Handoff, ServiceRequest, UnansweredQuestion)
        )
