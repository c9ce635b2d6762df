"""Knowledge curation: list, search, filter, create, edit, publish, retire, restore, revisions
with a diff, roll back, import and export; unanswered questions into articles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import ValidationError

from bot.runtime import Runtime
from bot.staff.roles import Permission
from channels.deps import RowId, RuntimeDep
from channels.staff import transfer, unanswered
from channels.staff.article_form import ArticleForm, Checked, check
from channels.staff.auth import KnowledgeReader, KnowledgeWriter, Staff
from channels.staff.freshness import StatusAction, refresh_now, set_article_status
from channels.staff.preview import MAX_QUESTION_CHARS, preview
from channels.staff.web import MAX_BODY_BYTES, NotFound, flash, page, redirect
from knowledge.schema import ArticleData, ArticleView, normalise_question
from knowledge.service import ArticleNotFound, KnowledgeError, SlugTaken

router = APIRouter()
STATUSES = ("draft", "published", "archived")
Filter = Annotated[str, Query(max_length=200)]


def _article(rt: Runtime, article_id: int) -> ArticleView:
    article = rt.knowledge.get(article_id)
    if article is None:
        raise NotFound(f"There is no article {article_id}.")
    return article


def _choices(rt: Runtime) -> dict[str, list[str]]:
    articles = rt.knowledge.list()
    return {
        name: sorted({getattr(a, name) for a in articles})
        for name in ("category", "department", "language")
    }


@router.get("/staff/knowledge", response_class=HTMLResponse)
def article_list(
    request: Request,
    rt: RuntimeDep,
    staff: KnowledgeReader,
    q: Filter = "",
    category: Filter = "",
    department: Filter = "",
    language: Filter = "",
    status: Filter = "",
) -> HTMLResponse:
    articles = rt.knowledge.list(
        status=status or None,
        category=category or None,
        department=department or None,
        language=language or None,
        text=q or None,
    )
    return page(
        request,
        "knowledge_list.html",
        {
            "section": "knowledge",
            "articles": articles,
            "filters": {
                "q": q,
                "category": category,
                "department": department,
                "language": language,
                "status": status,
            },
            "choices": {**_choices(rt), "status": list(STATUSES)},
        },
    )


# -- create and edit -----------------------------------------------------------------------
def _form_page(
    request: Request,
    rt: Runtime,
    form: ArticleForm,
    article: ArticleView | None,
    checked: Checked | None = None,
) -> HTMLResponse:
    """The form, with an error summary and a message at each field when it did not save."""
    checked = checked or Checked(None)
    return page(
        request,
        "article_form.html",
        {
            "section": "knowledge",
            "form": form,
            "article": article,
            "summary": checked.summary,
            "errors": checked.errors,
            "overlaps": checked.overlaps,
            "choices": _choices(rt),
            "statuses": STATUSES,
        },
        status_code=422 if checked.summary else 200,
    )


@router.get("/staff/knowledge/new", response_class=HTMLResponse)
def article_new(
    request: Request,
    rt: RuntimeDep,
    staff: KnowledgeWriter,
    from_unanswered: Annotated[str, Query(alias="from", max_length=5000)] = "",
) -> HTMLResponse:
    form = ArticleForm(language=rt.settings.default_language)
    group = unanswered.find_group(rt, unanswered.parse_ids(from_unanswered))
    if group:
        texts = unanswered.Group(group).variants
        form = ArticleForm(
            title=texts[0][:300],
            questions="\n".join(texts),
            language=group[0].language,
            unanswered=",".join(str(q.id) for q in group),
        )
    return _form_page(request, rt, form, None)


def _save(
    rt: Runtime, staff: Staff, form: ArticleForm, article_id: int | None
) -> tuple[ArticleView | None, Checked]:
    checked = check(rt, form, article_id)
    if checked.data is None or checked.overlaps:
        return None, checked
    try:
        if article_id is None:
            saved = rt.knowledge.create(checked.data, staff.name)
        else:
            saved = rt.knowledge.update(article_id, checked.data, staff.name, form.note.strip())
    except SlugTaken as exc:
        checked.errors["slug"] = [str(exc)]
        return None, checked
    resolved = unanswered.parse_ids(form.unanswered)
    if resolved:
        rt.knowledge.resolve_unanswered(resolved, saved.id)
    refresh_now(rt.search)
    return saved, checked


@router.post("/staff/knowledge/new", response_class=HTMLResponse)
def article_create(
    request: Request, rt: RuntimeDep, staff: KnowledgeWriter, form: Annotated[ArticleForm, Form()]
) -> Response:
    saved, checked = _save(rt, staff, form, None)
    if saved is None:
        return _form_page(request, rt, form, None, checked)
    flash(request, f"Created “{saved.title}” as {saved.status}.")
    return redirect(f"/staff/knowledge/{saved.id}")


@router.get("/staff/knowledge/{article_id:int}/edit", response_class=HTMLResponse)
def article_edit(
    request: Request, rt: RuntimeDep, staff: KnowledgeWriter, article_id: RowId
) -> HTMLResponse:
    article = _article(rt, article_id)
    return _form_page(request, rt, ArticleForm.from_article(article), article)


@router.post("/staff/knowledge/{article_id:int}/edit", response_class=HTMLResponse)
def article_update(
    request: Request,
    rt: RuntimeDep,
    staff: KnowledgeWriter,
    article_id: RowId,
    form: Annotated[ArticleForm, Form()],
) -> Response:
    article = _article(rt, article_id)
    saved, checked = _save(rt, staff, form, article_id)
    if saved is None:
        return _form_page(request, rt, form, article, checked)
    changed = saved.revision != article.revision
    flash(request, f"Saved revision {saved.revision}." if changed else "Nothing had changed.")
    return redirect(f"/staff/knowledge/{saved.id}")


# -- one article ---------------------------------------------------------------------------
@router.get("/staff/knowledge/{article_id:int}", response_class=HTMLResponse)
def article_view(
    request: Request,
    rt: RuntimeDep,
    staff: KnowledgeReader,
    article_id: RowId,
    ask: Annotated[str, Query(max_length=MAX_QUESTION_CHARS)] = "",
) -> HTMLResponse:
    article = _article(rt, article_id)
    result = None
    if ask.strip() and staff.can(Permission.PREVIEW):
        result = preview(rt, ask, article.language)
    return page(
        request,
        "article.html",
        {"section": "knowledge", "article": article, "result": result, "question": ask},
    )


def _status_change(rt: Runtime, staff: Staff, article_id: int, action: StatusAction) -> ArticleView:
    _article(rt, article_id)
    return set_article_status(rt, article_id, action, staff.name)


@router.post("/staff/knowledge/{article_id:int}/publish")
def article_publish(
    request: Request, rt: RuntimeDep, staff: KnowledgeWriter, article_id: RowId
) -> Response:
    article = _status_change(rt, staff, article_id, "publish")
    flash(request, f"Published “{article.title}”: the bot answers with it now.")
    return redirect(f"/staff/knowledge/{article_id}")


@router.post("/staff/knowledge/{article_id:int}/retire")
def article_retire(
    request: Request, rt: RuntimeDep, staff: KnowledgeWriter, article_id: RowId
) -> Response:
    article = _status_change(rt, staff, article_id, "retire")
    flash(request, f"Retired “{article.title}”: the bot no longer answers with it.")
    return redirect(f"/staff/knowledge/{article_id}")


@router.post("/staff/knowledge/{article_id:int}/restore")
def article_restore(
    request: Request, rt: RuntimeDep, staff: KnowledgeWriter, article_id: RowId
) -> Response:
    article = _status_change(rt, staff, article_id, "restore")
    flash(request, f"Restored “{article.title}”: it is published again.")
    return redirect(f"/staff/knowledge/{article_id}")


# -- revisions -----------------------------------------------------------------------------
@router.get("/staff/knowledge/{article_id:int}/revisions", response_class=HTMLResponse)
def article_revisions(
    request: Request,
    rt: RuntimeDep,
    staff: KnowledgeReader,
    article_id: RowId,
    a: RowId | None = None,
    b: RowId | None = None,
) -> HTMLResponse:
    article = _article(rt, article_id)
    revisions = rt.knowledge.revisions(article_id)
    numbers = [r.number for r in revisions]
    b = b if b in numbers else numbers[-1]
    a = a if a in numbers else max(1, b - 1)
    diff = rt.knowledge.diff(article_id, a, b) if a in numbers and a != b else ""
    return page(
        request,
        "revisions.html",
        {
            "section": "knowledge",
            "article": article,
            "revisions": list(reversed(revisions)),
            "a": a,
            "b": b,
            "diff": diff.splitlines(),
        },
    )


@router.post("/staff/knowledge/{article_id:int}/rollback")
def article_rollback(
    request: Request,
    rt: RuntimeDep,
    staff: KnowledgeWriter,
    article_id: RowId,
    revision: Annotated[RowId, Form()],
) -> Response:
    _article(rt, article_id)
    try:
        article = rt.knowledge.rollback(article_id, revision, staff.name)
    except (ArticleNotFound, SlugTaken) as exc:
        flash(request, f"Not rolled back: {exc}.", "error")
        return redirect(f"/staff/knowledge/{article_id}/revisions")
    refresh_now(rt.search)
    flash(request, f"Rolled back to revision {revision}; saved as revision {article.revision}.")
    return redirect(f"/staff/knowledge/{article_id}")


# -- import and export ---------------------------------------------------------------------
@router.get("/staff/knowledge/import", response_class=HTMLResponse)
def import_form(request: Request, staff: KnowledgeWriter) -> HTMLResponse:
    return page(request, "import.html", {"section": "knowledge", "result": None})


@router.post("/staff/knowledge/import", response_class=HTMLResponse)
async def import_file(
    request: Request,
    rt: RuntimeDep,
    staff: KnowledgeWriter,
    file: Annotated[UploadFile, File()],
    mode: Annotated[str, Form(max_length=10)] = "check",
) -> HTMLResponse:
    data = await file.read(MAX_BODY_BYTES + 1)
    dry_run = mode != "apply"
    context = {"section": "knowledge", "filename": file.filename, "dry_run": dry_run}
    try:
        if len(data) > MAX_BODY_BYTES:
            raise transfer.FileProblem("the file is larger than 1 MB: split it")
        parsed = transfer.read(data, file.filename or "")
    except transfer.FileProblem as exc:
        context.update(result=None, problem=str(exc))
        return page(request, "import.html", context, status_code=422)
    result = await run_in_threadpool(transfer.run_import, rt.knowledge, parsed, staff.name, dry_run)
    if result.applied:
        await run_in_threadpool(refresh_now, rt.search)
    context.update(result=result, problem=None)
    return page(request, "import.html", context, status_code=422 if result.errors else 200)


@router.get("/staff/knowledge/export.{fmt}")
def export(rt: RuntimeDep, staff: KnowledgeReader, fmt: str) -> Response:
    if fmt == "csv":
        body, media = transfer.export_csv(rt.knowledge), "text/csv; charset=utf-8"
    elif fmt in ("yaml", "yml"):
        body, media = transfer.export_yaml(rt.knowledge), "application/yaml; charset=utf-8"
    else:
        return PlainTextResponse("export as .csv or .yaml", status_code=404)
    return Response(
        body,
        media_type=media,
        headers={"content-disposition": f'attachment; filename="knowledge.{fmt}"'},
    )


# -- unanswered questions ------------------------------------------------------------------
@router.get("/staff/unanswered", response_class=HTMLResponse)
def unanswered_list(request: Request, rt: RuntimeDep, staff: KnowledgeReader) -> HTMLResponse:
    groups = unanswered.groups(rt)
    suggestions = {
        group.key: [
            hit for hit in rt.search.search(group.variants[0], language=group.language, k=3)
        ]
        for group in groups[:50]
    }
    return page(
        request,
        "unanswered.html",
        {
            "section": "unanswered",
            "groups": groups[:50],
            "suggestions": suggestions,
            "total": sum(g.count for g in groups),
        },
    )


@router.post("/staff/unanswered/attach")
def unanswered_attach(
    request: Request,
    rt: RuntimeDep,
    staff: KnowledgeWriter,
    ids: Annotated[str, Form(max_length=5000)],
    article_id: Annotated[RowId, Form()],
) -> Response:
    """Add a group's wordings to an article as question variants, and mark them answered."""
    article = _article(rt, article_id)
    group = unanswered.find_group(rt, unanswered.parse_ids(ids))
    if not group:
        flash(request, "Those questions were already dealt with.", "info")
        return redirect("/staff/unanswered")
    known = {normalise_question(q) for q in article.questions}
    new = [t for t in unanswered.Group(group).variants if normalise_question(t) not in known]
    if new:
        fields = article.model_dump(include=set(ArticleData.model_fields))
        try:
            data = ArticleData.model_validate({**fields, "questions": [*article.questions, *new]})
            rt.knowledge.update(article_id, data, staff.name, "added unanswered questions")
        except (KnowledgeError, ValidationError) as exc:
            flash(request, f"Not attached: {exc}.", "error")
            return redirect("/staff/unanswered")
    rt.knowledge.resolve_unanswered([q.id for q in group], article_id)
    refresh_now(rt.search)
    flash(
        request,
        f"Added {len(new)} question variant(s) to “{article.title}”; "
        f"{len(group)} question(s) marked answered.",
    )
    return redirect("/staff/unanswered")
