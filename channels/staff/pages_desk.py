"""The request desk and the handoff inbox: the agents' side of the console."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sse_starlette import EventSourceResponse, ServerSentEvent

from bot import plain_words, service_requests
from bot.runtime import Runtime
from bot.staff import handoffs
from bot.staff.roles import Permission
from bot.storage.models import Conversation, Handoff, Notice, RequestEvent, ServiceRequest, Turn
from channels import live
from channels.deps import RowId, RuntimeDep
from channels.staff import notify, transcripts
from channels.staff.auth import (
    HandoffReader,
    HandoffWorker,
    RequestReader,
    RequestWriter,
    Staff,
)
from channels.staff.web import NotFound, flash, page, redirect, when

router = APIRouter()
SORTS = {
    "newest": ServiceRequest.created_at.desc(),
    "oldest": ServiceRequest.created_at.asc(),
    "updated": ServiceRequest.updated_at.desc(),
}
AGES = {"": None, "1": 1, "7": 7, "30": 30}  # older than this many days
PAGE_SIZE = 200
CALLBACK_CHANNELS = ("sms", "voice")  # a resident with a number staff may ring back
Filter = Annotated[str, Query(max_length=120)]


# -- request desk --------------------------------------------------------------------------
@router.get("/staff/requests", response_class=HTMLResponse)
def request_list(
    request: Request,
    rt: RuntimeDep,
    staff: RequestReader,
    status: Filter = "",
    service: Filter = "",
    district: Filter = "",
    older_than: Filter = "",
    sort: Filter = "newest",
) -> HTMLResponse:
    query = select(ServiceRequest)
    if status:
        query = query.where(ServiceRequest.status == status)
    if service:
        query = query.where(ServiceRequest.service_code == service)
    if district:
        query = query.where(ServiceRequest.district == district)
    days = AGES.get(older_than)
    if days:
        query = query.where(ServiceRequest.created_at < datetime.now(UTC) - timedelta(days=days))
    query = query.order_by(SORTS.get(sort, SORTS["newest"]), ServiceRequest.id.desc())
    with rt.db.sessions() as session:
        rows = list(session.scalars(query.limit(PAGE_SIZE)))
        districts = sorted(
            d for d in session.scalars(select(ServiceRequest.district).distinct()) if d is not None
        )
        newest = session.scalar(select(func.max(ServiceRequest.id)))
    return page(
        request,
        "requests.html",
        {
            "section": "requests",
            "rows": rows,
            "filters": {
                "status": status,
                "service": service,
                "district": district,
                "older_than": older_than,
                "sort": sort,
            },
            "statuses": service_requests.STATUSES,
            "services": rt.catalogue.services,
            "districts": districts,
            "names": {s.code: s.name for s in rt.catalogue.services},
            "page_size": PAGE_SIZE,
            "newest": newest or 0,
        },
    )


@router.get("/staff/requests/events", response_class=EventSourceResponse)
def request_list_events(
    request: Request,
    rt: RuntimeDep,
    staff: RequestReader,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> EventSourceResponse:
    """Server-sent events for the open request list: ``filed`` for each new request."""
    start = live.last_event_id(request.headers.get("last-event-id"), after)
    names = {s.code: s.name for s in rt.catalogue.services}

    def changes(last: int) -> tuple[list[ServerSentEvent], int]:
        with rt.db.sessions() as session:
            rows = list(
                session.scalars(
                    select(ServiceRequest)
                    .where(ServiceRequest.id > last, ServiceRequest.reference.is_not(None))
                    .order_by(ServiceRequest.id)
                    .limit(50)
                )
            )
        events = [
            ServerSentEvent(
                data=json.dumps(
                    {
                        "reference": r.reference,
                        "service": names.get(r.service_code, r.service_code),
                        "district": r.district or "",
                        "when": when(r.created_at, rt.settings.timezone),
                        "channel": plain_words.channel(r.channel),
                    }
                ),
                event="filed",
                id=str(r.id),
            )
            for r in rows
        ]
        return events, rows[-1].id if rows else last

    return live.respond(request.app, f"staff:{staff.id}", start, changes)


def _request(session, reference: str) -> ServiceRequest:
    found = service_requests.find(session, reference[:40])
    if found is None:
        raise NotFound(f"There is no request {reference[:40]}.")
    return found


@router.get("/staff/requests/{reference}", response_class=HTMLResponse)
def request_view(
    request: Request, rt: RuntimeDep, staff: RequestReader, reference: str
) -> HTMLResponse:
    with rt.db.sessions() as session:
        found = _request(session, reference)
        events = list(
            session.scalars(
                select(RequestEvent)
                .where(RequestEvent.request_id == found.id)
                .order_by(RequestEvent.id)
            )
        )
        notices = list(
            session.scalars(select(Notice).where(Notice.request_id == found.id).order_by(Notice.id))
        )
        turns = handoffs.transcript(session, found.conversation_id) if found.conversation_id else []
    service = rt.catalogue.get(found.service_code)
    return page(
        request,
        "request.html",
        {
            "section": "requests",
            "item": found,
            "service": service.name if service else found.service_code,
            "events": events,
            "notices": notices,
            "turns": transcripts.views(rt, turns, found.channel),
            "statuses": service_requests.STATUSES,
        },
    )


def _change_status(
    rt: Runtime, reference: str, status: str, note: str, actor: str
) -> tuple[str, int | None]:
    with rt.db.transaction() as session:
        found = _request(session, reference)
        notice = service_requests.change_status(session, found, status, actor, note or None)
        return found.reference or reference, notice.id if notice else None


@router.post("/staff/requests/{reference}/status")
async def request_status(
    request: Request,
    rt: RuntimeDep,
    staff: RequestWriter,
    reference: str,
    status: Annotated[str, Form(max_length=20)],
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    note = " ".join(note.split())
    try:
        reference, notice_id = await run_in_threadpool(
            _change_status, rt, reference, status, note, staff.name
        )
    except service_requests.UnknownStatus as exc:
        flash(request, f"Not changed: {exc}.", "error")
        return redirect(f"/staff/requests/{reference}")
    if notice_id is None:
        flash(request, "Saved. The resident asked for no updates, so no one was told.")
    else:
        sent = await notify.send(request, rt, [notice_id])
        flash(
            request,
            f"Status is now {plain_words.request_status(status)}. Notice to the resident: "
            f"{notify.describe(sent.get(notice_id))}.",
        )
    return redirect(f"/staff/requests/{reference}")


# -- handoff inbox -------------------------------------------------------------------------
@router.get("/staff/handoffs", response_class=HTMLResponse)
def handoff_list(request: Request, rt: RuntimeDep, staff: HandoffReader) -> HTMLResponse:
    with rt.db.sessions() as session:
        items = handoffs.inbox(session)
    pressed = transcripts.titles(rt)
    last = {i.handoff.id: pressed(i.last_text, i.conversation.channel) for i in items}
    newest = max((i.handoff.id for i in items), default=0)
    context = {"section": "handoffs", "items": items, "last": last, "newest": newest}
    return page(request, "handoffs.html", context)


@router.get("/staff/handoffs/events", response_class=EventSourceResponse)
def handoff_list_events(
    request: Request,
    rt: RuntimeDep,
    staff: HandoffReader,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> EventSourceResponse:
    """Server-sent events for the open inbox: ``handoff`` for each new resident waiting."""
    start = live.last_event_id(request.headers.get("last-event-id"), after)

    def changes(last: int) -> tuple[list[ServerSentEvent], int]:
        with rt.db.sessions() as session:
            fresh = select(Handoff.id).where(Handoff.id > last, Handoff.status.in_(handoffs.OPEN))
            if session.scalar(fresh.limit(1)) is None:  # the usual poll: one small query
                return [], last
            items = [i for i in handoffs.inbox(session) if i.handoff.id > last]
        pressed = transcripts.titles(rt)
        events = [
            ServerSentEvent(
                data=json.dumps(
                    {
                        "id": i.handoff.id,
                        "when": when(i.handoff.created_at, rt.settings.timezone),
                        "channel": plain_words.channel(i.conversation.channel),
                        "last": pressed(i.last_text, i.conversation.channel)[:120],
                        "status": plain_words.handoff_status(i.handoff.status),
                        "code": i.handoff.status,
                        "alert": (i.handoff.alert or "").capitalize(),
                    }
                ),
                event="handoff",
                id=str(i.handoff.id),
            )
            for i in sorted(items, key=lambda i: i.handoff.id)
        ]
        return events, max([last, *(i.handoff.id for i in items)])

    return live.respond(request.app, f"staff:{staff.id}", start, changes)


@router.get("/staff/handoffs/{handoff_id:int}", response_class=HTMLResponse)
def handoff_view(
    request: Request, rt: RuntimeDep, staff: HandoffReader, handoff_id: RowId
) -> HTMLResponse:
    with rt.db.sessions() as session:
        try:
            handoff = handoffs.get(session, handoff_id)
        except handoffs.HandoffError as exc:
            raise NotFound(str(exc)) from exc
        conversation = session.get(Conversation, handoff.conversation_id)
        turns = handoffs.transcript(session, handoff.conversation_id)
        notices = list(
            session.scalars(
                select(Notice)
                .where(
                    Notice.conversation_id == handoff.conversation_id, Notice.request_id.is_(None)
                )
                .order_by(Notice.id.desc())
                .limit(20)
            )
        )
    assert conversation is not None
    return page(
        request,
        "handoff.html",
        {
            "section": "handoffs",
            "handoff": handoff,
            "conversation": conversation,
            "channel_words": plain_words.channel(conversation.channel),
            "callback": _callback(staff, conversation.channel, handoff.reply_address),
            "turns": transcripts.views(rt, turns, conversation.channel),
            "notices": notices,
            "max_reply": handoffs.MAX_REPLY_CHARS,
        },
    )


def _callback(staff: Staff, channel: str, address: str | None) -> str | None:
    """The number to ring a caller or texter back on: for staff who work handoffs only, and
    only while the handoff is open (the address is forgotten when it is handed back)."""
    if channel not in CALLBACK_CHANNELS or not address or not staff.can(Permission.HANDOFFS_WORK):
        return None
    return address


@router.get("/staff/handoffs/{handoff_id:int}/events", response_class=EventSourceResponse)
def handoff_events(
    request: Request,
    rt: RuntimeDep,
    staff: HandoffReader,
    handoff_id: RowId,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> EventSourceResponse:
    """Server-sent events for an open handoff page: ``turn`` for each new transcript line
    (in plain words, as the page shows it), ``status`` when the handoff is taken or closed."""
    with rt.db.sessions() as session:
        try:
            handoff = handoffs.get(session, handoff_id)
        except handoffs.HandoffError as exc:
            raise NotFound(str(exc)) from exc
        conversation = session.get(Conversation, handoff.conversation_id)
        assert conversation is not None
        seen = (handoff.status, handoff.taken_by)
        channel, conversation_id = conversation.channel, conversation.id
    start = live.last_event_id(request.headers.get("last-event-id"), after)

    def changes(cursor: tuple[int, tuple]) -> tuple[list[ServerSentEvent], tuple[int, tuple]]:
        last, state = cursor
        with rt.db.sessions() as session:
            turns = list(
                session.scalars(
                    select(Turn)
                    .where(Turn.conversation_id == conversation_id, Turn.id > last)
                    .order_by(Turn.id)
                    .limit(50)
                )
            )
            now = session.get(Handoff, handoff_id)
            current = (now.status, now.taken_by) if now else state
        events = [
            ServerSentEvent(data=json.dumps(v.as_event()), event="turn", id=str(v.id))
            for v in transcripts.views(rt, turns, channel)
        ]
        if current != state:
            label = plain_words.handoff_status(current[0])
            label += f" by {current[1]}" if current[1] and current[0] == "taken" else ""
            events.append(ServerSentEvent(data=json.dumps({"label": label}), event="status"))
        return events, (turns[-1].id if turns else last, current)

    return live.respond(request.app, f"staff:{staff.id}", (start, seen), changes)


def _work(rt: Runtime, action: str, handoff_id: int, actor: str, text: str = "") -> int | None:
    with rt.db.transaction() as session:
        if action == "take":
            handoffs.take(session, handoff_id, actor)
            return None
        if action == "reply":
            return handoffs.reply(session, handoff_id, actor, text).id
        return handoffs.hand_back(session, handoff_id, actor).id


@dataclass(frozen=True)
class Outcome:
    error: str | None = None  # why nothing was done
    notice: str | None = None  # what became of the message to the resident


async def _handoff_action(
    request: Request, rt: Runtime, staff_name: str, handoff_id: int, action: str, text: str = ""
) -> Outcome:
    try:
        notice_id = await run_in_threadpool(_work, rt, action, handoff_id, staff_name, text)
    except handoffs.HandoffError as exc:
        return Outcome(error=str(exc))
    if notice_id is None:
        return Outcome()
    sent = await notify.send(request, rt, [notice_id])
    return Outcome(notice=notify.describe(sent.get(notice_id)))


@router.post("/staff/handoffs/{handoff_id:int}/take")
async def handoff_take(
    request: Request, rt: RuntimeDep, staff: HandoffWorker, handoff_id: RowId
) -> Response:
    outcome = await _handoff_action(request, rt, staff.name, handoff_id, "take")
    if outcome.error:
        flash(request, f"Not taken: {outcome.error}.", "error")
    else:
        flash(request, "You have this conversation now. Reply below.")
    return redirect(f"/staff/handoffs/{handoff_id}")


@router.post("/staff/handoffs/{handoff_id:int}/reply")
async def handoff_reply(
    request: Request,
    rt: RuntimeDep,
    staff: HandoffWorker,
    handoff_id: RowId,
    text: Annotated[str, Form(max_length=handoffs.MAX_REPLY_CHARS * 2)] = "",
) -> Response:
    outcome = await _handoff_action(request, rt, staff.name, handoff_id, "reply", text)
    if outcome.error:
        flash(request, f"Not sent: {outcome.error}.", "error")
    else:
        flash(request, f"Reply: {outcome.notice}.")
    return redirect(f"/staff/handoffs/{handoff_id}")


@router.post("/staff/handoffs/{handoff_id:int}/release")
async def handoff_release(
    request: Request, rt: RuntimeDep, staff: HandoffWorker, handoff_id: RowId
) -> Response:
    outcome = await _handoff_action(request, rt, staff.name, handoff_id, "release")
    if outcome.error:
        flash(request, f"Not handed back: {outcome.error}.", "error")
        return redirect(f"/staff/handoffs/{handoff_id}")
    flash(
        request, f"The bot has the conversation again. Message to the resident: {outcome.notice}."
    )
    return redirect("/staff/handoffs")
