"""Integration keys in the staff console (/staff/integrations) and the staff API (admin only).

A key lets a city's own system speak for residents on the channels it names
(bot/integrations.py, channels/rest_sender.py). Its clear text is shown in the one answer
that creates it and never again; revoking it stops it at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from bot import integrations
from bot.integrations import IntegrationKey, IntegrationKeyError
from bot.runtime import Runtime
from bot.staff.roles import Permission
from channels.deps import RowId, RuntimeDep
from channels.staff.auth import Admin, ApiGuard, Staff
from channels.staff.web import flash, page, redirect

pages = APIRouter()
api = APIRouter(prefix="/api/v1/staff/integration-keys", tags=["staff"])
ApiAdmin = Annotated[Staff, Depends(ApiGuard(Permission.ACCOUNTS))]


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    channels: list[str]
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewKey(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    channels: list[str] = Field(min_length=1, max_length=integrations.MAX_CHANNELS)


class CreatedKey(KeyOut):
    key: str  # shown this once


def _out(row: IntegrationKey) -> KeyOut:
    return KeyOut.model_validate(row, from_attributes=True)


def _create(rt: Runtime, name: str, channels: str | list[str], staff: Staff) -> CreatedKey:
    with rt.db.transaction() as session:
        row, secret = integrations.create_key(session, name, channels, staff.name)
        return CreatedKey(**_out(row).model_dump(), key=secret)


# -- console -------------------------------------------------------------------------------
def _page(request: Request, rt: Runtime, created: CreatedKey | None = None) -> HTMLResponse:
    with rt.db.sessions() as session:
        rows = [_out(row) for row in integrations.live_keys(session)]
    context = {"section": "integrations", "keys": rows, "created": created}
    return page(request, "integrations.html", context)


@pages.get("/staff/integrations", response_class=HTMLResponse)
def key_list(request: Request, rt: RuntimeDep, staff: Admin) -> HTMLResponse:
    return _page(request, rt)


@pages.post("/staff/integrations")
def key_create(
    request: Request,
    rt: RuntimeDep,
    staff: Admin,
    name: Annotated[str, Form(max_length=200)] = "",
    channels: Annotated[str, Form(max_length=800)] = "",
) -> Response:
    try:
        created = _create(rt, name, channels, staff)
    except IntegrationKeyError as exc:
        flash(request, f"No key created: {exc}.", "error")
        return redirect("/staff/integrations")
    return _page(request, rt, created)


@pages.post("/staff/integrations/{key_id:int}/revoke")
def key_revoke(request: Request, rt: RuntimeDep, staff: Admin, key_id: RowId) -> Response:
    with rt.db.transaction() as session:
        row = integrations.revoke_key(session, key_id)
        done = f"Revoked the key {row.name}." if row else None
    flash(request, done or "No such live key.", "success" if done else "error")
    return redirect("/staff/integrations")


# -- staff API -----------------------------------------------------------------------------
@api.get("", response_model=list[KeyOut])
def api_list(rt: RuntimeDep, staff: ApiAdmin) -> list[KeyOut]:
    with rt.db.sessions() as session:
        return [_out(row) for row in integrations.live_keys(session)]


@api.post("", response_model=CreatedKey, status_code=201)
def api_create(rt: RuntimeDep, staff: ApiAdmin, body: NewKey) -> CreatedKey:
    try:
        return _create(rt, body.name, body.channels, staff)
    except IntegrationKeyError as exc:
        raise HTTPException(422, str(exc)) from exc


@api.post("/{key_id:int}/revoke", response_model=KeyOut)
def api_revoke(rt: RuntimeDep, staff: ApiAdmin, key_id: RowId) -> KeyOut:
    with rt.db.transaction() as session:
        row = integrations.revoke_key(session, key_id)
        if row is None:
            raise HTTPException(404, "no live key with that id")
        return _out(row)
