"""Status pushed by a webhook back office: ``POST /webhooks/backoffice/status``.

Signed exactly as our deliveries to it are (bot/backoffice/webhook.py): the HMAC-SHA256 of
``"<X-Hotline-Timestamp>." + body`` under HOTLINE_WEBHOOK_SECRET. The body names our
reference, the new status and an optional note; the resident gets a notice.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError

from bot.backoffice import webhook
from bot.backoffice.status_sync import apply_pushed
from bot.service_requests import STATUSES
from bot.settings import secret_text
from channels.deps import RuntimeDep

router = APIRouter(tags=["backoffice"])


class StatusPush(BaseModel):
    reference: str = Field(min_length=1, max_length=40)
    status: str = Field(pattern="^(" + "|".join(STATUSES) + ")$")
    note: str | None = Field(None, max_length=2000)


@router.post("/webhooks/backoffice/status")
async def status_pushed(request: Request, rt: RuntimeDep) -> dict[str, bool]:
    secret = secret_text(rt.settings.webhook_secret)
    if secret is None:
        raise HTTPException(404, "no webhook back office is configured")
    body = await request.body()
    if not webhook.verify(
        secret.encode(),
        request.headers.get(webhook.TIMESTAMP_HEADER),
        request.headers.get(webhook.SIGNATURE_HEADER),
        body,
    ):
        raise HTTPException(401, "missing, stale or wrong signature")
    try:
        push = StatusPush.model_validate_json(body)
    except ValidationError as exc:
        raise HTTPException(422, exc.errors(include_url=False, include_input=False)) from exc
    changed = await run_in_threadpool(
        apply_pushed, rt.db, "webhook", push.reference, push.status, push.note
    )
    if changed is None:
        raise HTTPException(404, "no request with that reference was sent to this back office")
    return {"changed": changed}
