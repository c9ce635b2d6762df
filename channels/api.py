"""REST API: messages in and out, public request status, health and readiness."""

from __future__ import annotations

import os
import shutil
import socket
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from bot import service_requests
from bot.assistant import InputTooLong
from bot.contract import InboundMessage, Reply
from bot.runtime import Runtime
from channels.deps import RuntimeDep

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


@router.post("/api/v1/messages", response_model=Reply, tags=["messages"])
def post_message(message: InboundMessage, rt: RuntimeDep) -> Reply:
    try:
        return rt.assistant.handle(message)
    except InputTooLong as exc:
        raise HTTPException(status_code=413, detail=str(exc)) from exc


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
