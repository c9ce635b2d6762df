"""The staff API for scripts: /api/v1/staff/..., a bearer token per call, the token's role."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from bot import service_requests
from bot.contract import clean_text
from bot.runtime import Runtime
from bot.staff import accounts, handoffs
from bot.staff.models import StaffAccount
from bot.storage.models import ServiceRequest
from channels.deps import RowId, RuntimeDep
from channels.staff import notify, stats, transfer, unanswered
from channels.staff.article_form import overlaps
from channels.staff.auth import (
    ApiAdmin,
    ApiDashboard,
    ApiHandoffReader,
    ApiKnowledgeReader,
    ApiKnowledgeWriter,
    ApiPreview,
    ApiRequestReader,
    ApiRequestWriter,
    ApiSignedIn,
)
from channels.staff.freshness import StatusAction, refresh_now, set_article_status
from channels.staff.preview import MAX_QUESTION_CHARS, preview
from knowledge.schema import ArticleData, ArticleView, RevisionView
from knowledge.service import ArticleNotFound, SlugTaken

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])


class Me(BaseModel):
    name: str
    role: str


@router.get("/me", response_model=Me)
def me(staff: ApiSignedIn) -> Me:
    return Me(name=staff.name, role=staff.role)


# -- accounts (admin) ----------------------------------------------------------------------
class AccountOut(BaseModel):
    id: int
    name: str
    role: str
    active: bool
    last_login_at: datetime | None


class NewAccount(BaseModel):
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    password: str = Field(max_length=accounts.MAX_PASSWORD)


class AccountChange(BaseModel):
    """Only what is given changes; any change signs the account out and revokes its tokens."""

    role: str | None = Field(None, max_length=20)
    active: bool | None = None
    password: str | None = Field(None, max_length=accounts.MAX_PASSWORD)


def _account_out(account: StaffAccount) -> AccountOut:
    return AccountOut(
        id=account.id,
        name=account.name,
        role=account.role,
        active=account.active,
        last_login_at=account.last_login_at,
    )


@router.get("/accounts", response_model=list[AccountOut])
def list_accounts(rt: RuntimeDep, staff: ApiAdmin) -> list[AccountOut]:
    with rt.db.sessions() as session:
        return [_account_out(a) for a in accounts.accounts(session)]


@router.post("/accounts", response_model=AccountOut, status_code=201)
def create_account(rt: RuntimeDep, staff: ApiAdmin, body: NewAccount) -> AccountOut:
    try:
        with rt.db.transaction() as session:
            return _account_out(
                accounts.create_account(session, body.name, body.password, body.role)
            )
    except accounts.AccountError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.patch("/accounts/{account_id:int}", response_model=AccountOut)
def change_account(
    rt: RuntimeDep, staff: ApiAdmin, account_id: RowId, body: AccountChange
) -> AccountOut:
    try:
        with rt.db.transaction() as session:
            account = session.get(StaffAccount, account_id)
            if account is None:
                raise HTTPException(404, f"no account {account_id}")
            accounts.change_account(
                session, account, role=body.role, active=body.active, password=body.password
            )
            return _account_out(account)
    except accounts.AccountError as exc:
        raise HTTPException(422, str(exc)) from exc


# -- knowledge -----------------------------------------------------------------------------
def _article(rt: Runtime, article_id: int) -> ArticleView:
    article = rt.knowledge.get(article_id)
    if article is None:
        raise HTTPException(404, f"no article {article_id}")
    return article


@router.get("/articles", response_model=list[ArticleView])
def list_articles(
    rt: RuntimeDep,
    staff: ApiKnowledgeReader,
    q: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    department: Annotated[str | None, Query(max_length=200)] = None,
    language: Annotated[str | None, Query(max_length=16)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> list[ArticleView]:
    return rt.knowledge.list(
        status=status, category=category, department=department, language=language, text=q
    )


@router.get("/articles/{article_id:int}", response_model=ArticleView)
def get_article(rt: RuntimeDep, staff: ApiKnowledgeReader, article_id: RowId) -> ArticleView:
    return _article(rt, article_id)


class Save(BaseModel):
    article: ArticleData
    note: str = ""
    allow_overlap: bool = False


def _check_overlap(rt: Runtime, body: Save, article_id: int | None) -> None:
    if not body.allow_overlap:
        found = overlaps(rt, body.article, article_id)
        if found:
            raise HTTPException(422, {"overlaps": found})


def _saved(rt: Runtime, write: Callable[[], ArticleView]) -> ArticleView:
    """Run an article write with the API's answers to its failures; search sees it at once."""
    try:
        saved = write()
    except ArticleNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except SlugTaken as exc:
        raise HTTPException(409, str(exc)) from exc
    refresh_now(rt.search)
    return saved


@router.post("/articles", response_model=ArticleView, status_code=201)
def create_article(rt: RuntimeDep, staff: ApiKnowledgeWriter, body: Save) -> ArticleView:
    _check_overlap(rt, body, None)
    return _saved(rt, lambda: rt.knowledge.create(body.article, staff.name))


@router.put("/articles/{article_id:int}", response_model=ArticleView)
def update_article(
    rt: RuntimeDep, staff: ApiKnowledgeWriter, article_id: RowId, body: Save
) -> ArticleView:
    _article(rt, article_id)
    _check_overlap(rt, body, article_id)
    return _saved(rt, lambda: rt.knowledge.update(article_id, body.article, staff.name, body.note))


class Rollback(BaseModel):
    revision: RowId


@router.post("/articles/{article_id:int}/rollback", response_model=ArticleView)
def rollback(
    rt: RuntimeDep, staff: ApiKnowledgeWriter, article_id: RowId, body: Rollback
) -> ArticleView:
    return _saved(rt, lambda: rt.knowledge.rollback(article_id, body.revision, staff.name))


@router.post("/articles/{article_id:int}/{action}", response_model=ArticleView)
def change_article(
    rt: RuntimeDep, staff: ApiKnowledgeWriter, article_id: RowId, action: StatusAction
) -> ArticleView:
    _article(rt, article_id)
    return set_article_status(rt, article_id, action, staff.name)


@router.get("/articles/{article_id:int}/revisions", response_model=list[RevisionView])
def revisions(rt: RuntimeDep, staff: ApiKnowledgeReader, article_id: RowId) -> list[RevisionView]:
    _article(rt, article_id)
    return rt.knowledge.revisions(article_id)


@router.get("/articles/{article_id:int}/diff")
def diff(
    rt: RuntimeDep, staff: ApiKnowledgeReader, article_id: RowId, a: RowId, b: RowId
) -> dict[str, str]:
    try:
        return {"diff": rt.knowledge.diff(article_id, a, b)}
    except ArticleNotFound as exc:
        raise HTTPException(404, str(exc)) from exc


@router.get("/export")
def export(
    rt: RuntimeDep, staff: ApiKnowledgeReader, format: Literal["csv", "yaml"] = "yaml"
) -> Response:
    if format == "csv":
        return Response(transfer.export_csv(rt.knowledge), media_type="text/csv; charset=utf-8")
    return Response(transfer.export_yaml(rt.knowledge), media_type="application/yaml")


class ImportOut(BaseModel):
    applied: bool
    created: int
    updated: int
    unchanged: int
    errors: list[str]
    changes: list[dict[str, Any]]


@router.post("/import", response_model=ImportOut)
async def import_articles(
    request: Request,
    rt: RuntimeDep,
    staff: ApiKnowledgeWriter,
    format: Literal["csv", "yaml"],
    dry_run: bool = True,
) -> Any:
    """The file as the raw body; ``dry_run`` (the default) reports and changes nothing."""
    data = await request.body()
    try:
        parsed = transfer.read(data, f"upload.{format}")
    except transfer.FileProblem as exc:
        raise HTTPException(422, str(exc)) from exc
    result = await run_in_threadpool(transfer.run_import, rt.knowledge, parsed, staff.name, dry_run)
    if result.applied:
        await run_in_threadpool(refresh_now, rt.search)
    body = ImportOut(
        applied=result.applied,
        created=result.report.created,
        updated=result.report.updated,
        unchanged=result.report.unchanged,
        errors=result.errors,
        changes=[vars(c) for c in result.changes],
    )
    return Response(
        body.model_dump_json(), 422 if result.errors else 200, media_type="application/json"
    )


class GroupOut(BaseModel):
    ids: list[int]
    count: int
    newest: datetime
    language: str
    questions: list[str]


@router.get("/unanswered", response_model=list[GroupOut])
def unanswered_groups(rt: RuntimeDep, staff: ApiKnowledgeReader) -> list[GroupOut]:
    return [
        GroupOut(
            ids=g.ids, count=g.count, newest=g.newest, language=g.language, questions=g.variants
        )
        for g in unanswered.groups(rt)
    ]


class Ask(BaseModel):
    text: str
    language: str | None = None


@router.post("/preview")
def preview_reply(rt: RuntimeDep, staff: ApiPreview, body: Ask) -> dict[str, Any]:
    """What the bot would answer, changing nothing."""
    if not clean_text(body.text) or len(body.text) > MAX_QUESTION_CHARS:
        raise HTTPException(422, f"text must be 1 to {MAX_QUESTION_CHARS} characters")
    result = preview(rt, body.text, body.language)
    return {
        "intent": result.intent,
        "confidence": result.confidence,
        "entities": [{"entity": e, "value": v} for e, v in result.entities],
        "hits": [vars(h) for h in result.hits],
        "reply": result.reply.model_dump(mode="json") if result.reply else None,
        "channels": [vars(c) for c in result.channels],
        "error": result.error,
    }


# -- requests and handoffs -----------------------------------------------------------------
class RequestOut(BaseModel):
    reference: str
    service_code: str
    status: str
    status_note: str | None
    district: str | None
    address: str | None
    channel: str
    created_at: datetime
    updated_at: datetime


def _out(row: ServiceRequest) -> RequestOut:
    return RequestOut(
        reference=row.reference or "",
        service_code=row.service_code,
        status=row.status,
        status_note=row.status_note,
        district=row.district,
        address=row.address,
        channel=row.channel,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.get("/requests", response_model=list[RequestOut])
def list_requests(
    rt: RuntimeDep,
    staff: ApiRequestReader,
    status: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[RequestOut]:
    query = select(ServiceRequest).order_by(ServiceRequest.created_at.desc()).limit(limit)
    if status:
        query = query.where(ServiceRequest.status == status)
    with rt.db.sessions() as session:
        return [_out(row) for row in session.scalars(query)]


class StatusChange(BaseModel):
    status: str
    note: str | None = None


@router.post("/requests/{reference}/status")
async def change_status(
    request: Request,
    rt: RuntimeDep,
    staff: ApiRequestWriter,
    reference: str,
    body: Annotated[StatusChange, Body()],
) -> dict[str, Any]:
    def work() -> tuple[RequestOut, int | None]:
        with rt.db.transaction() as session:
            found = service_requests.find(session, reference[:40])
            if found is None:
                raise HTTPException(404, "no request with that reference")
            notice = service_requests.change_status(
                session, found, body.status, staff.name, body.note
            )
            session.flush()
            return _out(found), notice.id if notice else None

    try:
        out, notice_id = await run_in_threadpool(work)
    except service_requests.UnknownStatus as exc:
        raise HTTPException(422, str(exc)) from exc
    sent = await notify.send(request, rt, [notice_id] if notice_id else [])
    return {"request": out.model_dump(mode="json"), "notice": sent.get(notice_id or 0)}


@router.get("/handoffs")
def list_handoffs(rt: RuntimeDep, staff: ApiHandoffReader) -> list[dict[str, Any]]:
    with rt.db.sessions() as session:
        return [
            {
                "id": item.handoff.id,
                "status": item.handoff.status,
                "taken_by": item.handoff.taken_by,
                "channel": item.conversation.channel,
                "created_at": item.handoff.created_at.isoformat(),
                "last_text": item.last_text,
            }
            for item in handoffs.inbox(session)
        ]


@router.get("/stats")
def dashboard_stats(rt: RuntimeDep, staff: ApiDashboard) -> dict[str, Any]:
    with rt.db.sessions() as session:
        figures = stats.dashboard(session, zone=ZoneInfo(rt.settings.timezone))
    return {
        "timezone": rt.settings.timezone,
        "days": [d.isoformat() for d in figures.days],
        "per_day": {
            channel: {d.isoformat(): n for d, n in days.items()}
            for channel, days in figures.per_day.items()
        },
        "conversations": figures.conversations,
        "with_person": figures.with_person,
        "contained": figures.contained,
        "containment": figures.containment,
        "top_intents": figures.top_intents,
        "requests_by_status": figures.requests_by_status,
        "waiting_handoffs": figures.waiting_handoffs,
    }
