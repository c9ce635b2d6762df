"""REST API: messages in and out, public request status, health and readiness.

Who a message speaks for is decided by channels/rest_sender.py, never by its body.
"""

from __future__ import annotations

import os
import shutil
import socket
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from bot import service_requests
from bot.assistant import InputTooLong
from bot.contract import InboundMessage, Reply
from bot.runtime import Runtime
from channels import live
from channels.deps import RuntimeDep
from channels.rate_limit import SLOW_DOWN, RateLimiter
from channels.rest_sender import speaker

router = APIRouter()


class PublicStatus(BaseModel):
    """What anyone with the reference may see: never the description, address or contact."""

    reference: str
    service_code: str
    service_name: str
    status: str
    district: str | None
    created_at: datetime
    updated_at: datetime


class RestMessage(InboundMessage):
    """An ``InboundMessage`` whose channel and sender the server decides (channels/rest_sender).

    Both may still be sent, so older clients keep working; without an integration key they
    are ignored.
    """

    channel: str | None = Field(default=None, max_length=32)  # type: ignore[assignment]
    sender: str | None = Field(default=None, max_length=200)  # type: ignore[assignment]


@router.post("/api/v1/messages", response_model=Reply, tags=["messages"])
def post_message(body: RestMessage, request: Request, response: Response, rt: RuntimeDep) -> Reply:
    """One message in, the reply out: for the web session in the cookie, or with an
    integration key (``Authorization: Bearer hik_...``) for a sender on the key's channels."""
    who = speaker(request, response, rt, body.channel, body.sender)
    limiter: RateLimiter = request.app.state.rate_limiter
    decision = limiter.hit(who.channel, who.sender)
    if not decision.allowed:
        raise HTTPException(429, SLOW_DOWN, headers={"Retry-After": str(decision.retry_after)})
    try:
        message = InboundMessage.model_validate(
            {**body.model_dump(), "channel": who.channel, "sender": who.sender}
        )
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_input=False)) from exc
    try:
        reply = rt.assistant.handle(message)
    except InputTooLong as exc:
        raise HTTPException(status_code=413, detail=str(exc)) from exc
    live.streams(request.app).wake()  # an open handoff page shows the message now
    return reply


@router.get("/api/v1/requests/{reference}", response_model=PublicStatus, tags=["requests"])
def get_request(reference: str, rt: RuntimeDep) -> PublicStatus:
    with rt.db.sessions() as session:
        request = service_requests.find(session, reference[:40])
        if request is None:
            raise HTTPException(status_code=404, detail="no request with that reference")
        service = rt.catalogue.get(request.service_code)
        return PublicStatus(
            reference=request.reference or "",
            service_code=request.service_code,
            service_name=service.name if service else request.service_code,
            status=request.status,
            district=request.district,
            created_at=request.created_at,
            updated_at=request.updated_at,
        )


@router.get("/healthz", tags=["health"])
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["health"])
def readyz(request: Request) -> dict[str, object]:
    rt: Runtime | None = request.app.state.runtime
    if rt is None:
        error = request.app.state.startup_error
        raise HTTPException(status_code=503, detail=error or "starting up")
    if not rt.db.ping():
        raise HTTPException(status_code=503, detail="database unreachable")
    free_mb = shutil.disk_usage(rt.settings.data_dir).free // 2**20
    if free_mb < rt.settings.ready_min_free_mb:
        raise HTTPException(status_code=503, detail=f"disk almost full: {free_mb} MB free")
    try:  # SELECT 1 answers on a full or read-only database; a turn needs writes
        rt.db.prove_write(f"readyz:{socket.gethostname()}:{os.getpid()}")
    except Exception as exc:
        raise HTTPException(
            status_code=503, detail=f"database refuses writes ({type(exc).__name__})"
        ) from exc
    return {"status": "ready", "knowledge_version": rt.knowledge.version()}
