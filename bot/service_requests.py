"""Service requests: filing (with its outbox row, in one transaction), lookup and status changes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import replies
from bot.storage.models import (
    Conversation,
    Notice,
    OutboxMessage,
    RequestEvent,
    ServiceRequest,
    utcnow,
)

STATUSES = ("submitted", "acknowledged", "in_progress", "closed", "rejected")
OPEN_STATUSES = ("submitted", "acknowledged", "in_progress")


class UnknownStatus(ValueError):
    pass


def reference_for(request_id: int, when: datetime) -> str:
    return f"REQ-{when.year}-{request_id:06d}"


def normalise_reference(text: str) -> str:
    digits = "".join(ch for ch in text if ch.isdigit())
    return f"REQ-{digits[:4]}-{digits[4:]}" if len(digits) == 10 else text.strip().upper()


def file_request(session: Session, request: ServiceRequest, actor: str) -> ServiceRequest:
    """Store the request and the outbox row that will carry it to the back office, together."""
    now = request.created_at or utcnow()
    request.created_at = request.updated_at = now
    session.add(request)
    session.flush()
    request.reference = reference_for(request.id, now)
    session.add(
        RequestEvent(request_id=request.id, status=request.status, actor=actor, created_at=now)
    )
    session.add(
        OutboxMessage(
            kind="file_request",
            request_id=request.id,
            payload={"reference": request.reference},
            idempotency_key=uuid.uuid4().hex,
            created_at=now,
            next_attempt_at=now,
        )
    )
    session.flush()
    return request


def find(session: Session, reference: str) -> ServiceRequest | None:
    return session.scalar(
        select(ServiceRequest).where(ServiceRequest.reference == normalise_reference(reference))
    )


def of_conversation(session: Session, conversation: Conversation) -> list[ServiceRequest]:
    return list(
        session.scalars(
            select(ServiceRequest)
            .where(ServiceRequest.conversation_id == conversation.id)
            .order_by(ServiceRequest.id.desc())
            .limit(5)
        )
    )


def change_status(
    session: Session, request: ServiceRequest, status: str, actor: str, note: str | None = None
) -> Notice | None:
    """Record a status change and, unless the resident opted out, a notice for them."""
    if status not in STATUSES:
        raise UnknownStatus(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
    if status == request.status and not note:
        return None
    now = utcnow()
    request.status = status
    request.status_note = note
    request.updated_at = now
    session.add(
        RequestEvent(request_id=request.id, status=status, note=note, actor=actor, created_at=now)
    )
    if request.contact_preference == "none":
        return None
    notice = Notice(
        conversation_id=request.conversation_id,
        request_id=request.id,
        channel=request.channel,
        address=request.reply_address,
        text=replies.status_notice(request.reference or "", status, note),
        created_at=now,
    )
    session.add(notice)
    session.flush()
    return notice
