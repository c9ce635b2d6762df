"""The dashboard (figures and charts) with the 'What would the bot say?' box."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from bot import plain_words
from bot.backoffice import outbox
from bot.staff.roles import Permission
from channels.deps import RuntimeDep
from channels.staff import charts, stats, unanswered
from channels.staff.auth import DashboardViewer
from channels.staff.preview import MAX_QUESTION_CHARS, preview
from channels.staff.web import page

router = APIRouter()
Ask = Annotated[str, Query(max_length=MAX_QUESTION_CHARS)]


@router.get("/staff", response_class=HTMLResponse)
def dashboard(
    request: Request, rt: RuntimeDep, staff: DashboardViewer, ask: Ask = ""
) -> HTMLResponse:
    with rt.db.sessions() as session:
        figures = stats.dashboard(session, zone=ZoneInfo(rt.settings.timezone))
    per_day = {plain_words.channel(c): days for c, days in figures.per_day.items()}
    unanswered_chart = None
    if staff.can(Permission.KNOWLEDGE_READ):
        top = unanswered.groups(rt)[:8]
        top.sort(key=lambda g: g.count, reverse=True)
        unanswered_chart = charts.bar_chart([(g.variants[0], g.count) for g in top])
    return page(
        request,
        "dashboard.html",
        {
            "section": "dashboard",
            "stats": figures,
            "per_day": per_day,
            "per_day_chart": charts.stacked_chart(figures.days, per_day),
            "zone": rt.settings.timezone,
            "intents_chart": charts.bar_chart(
                [(plain_words.intent(name), n) for name, n in figures.top_intents]
            ),
            "status_chart": charts.bar_chart(
                [(plain_words.request_status(name), n) for name, n in figures.requests_by_status]
            ),
            "unanswered_chart": unanswered_chart,
            "outbox": outbox.summary(rt.db) if staff.can(Permission.REQUESTS_READ) else None,
            "question": ask,
            "result": preview(rt, ask) if ask.strip() and staff.can(Permission.PREVIEW) else None,
        },
    )
