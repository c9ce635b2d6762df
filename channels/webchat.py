"""The residents' web chat: a page at /chat and a one-script-tag widget for other sites.

No build step and nothing from a CDN: a Jinja template, one stylesheet and two scripts under
channels/static/chat/. The page talks to POST /api/v1/messages like any other client and
picks up notices (status changes, staff replies) with POST /api/v1/notices. Every answer is
rendered as DOM text nodes (never as HTML; phone numbers become tel: links from the reply's
``parts``), and the Content-Security-Policy allows scripts from this server only, so an
answer can never run code in a resident's browser. The favicon (/favicon.ico, also as SVG)
is served here for every page of the server.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from sqlalchemy import select

from bot import replies
from bot.contract import TextPart, text_parts
from bot.runtime import Runtime
from bot.storage.models import Notice
from channels.deps import RuntimeDep
from channels.outbound import WEB_CHANNEL
from channels.rest_sender import web_sender

router = APIRouter(tags=["web chat"])

HERE = Path(__file__).parent
STATIC = HERE / "static" / "chat"
templates = Jinja2Templates(directory=HERE / "templates")
ASSETS = {
    "chat.js": "text/javascript",
    "chat.css": "text/css",
    "widget.js": "text/javascript",
}
ICONS = {"favicon.ico": "image/x-icon", "favicon.svg": "image/svg+xml"}
PAGE_HEADERS = {
    # The page may be framed by any site (the widget); it runs and fetches only our own code.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors *"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": "microphone=(self)",
}
WHO = {"in": "you", "bot": "bot", "staff": "staff"}
TRANSCRIPT_TURNS = 40


class TranscriptTurn(BaseModel):
    """A line of the conversation; a staff line says who signed it (``author``) or that it was
    an automatic message (``automatic``), as its notice did, so a reload shows it the same."""

    who: str  # you | bot | staff
    author: str | None = None
    automatic: bool = False
    text: str
    parts: list[TextPart]  # phone numbers as tel: links, as in replies
    created_at: datetime


@router.get("/chat", response_class=HTMLResponse, include_in_schema=False)
def chat_page(request: Request, embed: bool = False) -> HTMLResponse:
    """The chat page; ``?embed=1`` is the same page without its banner, for the widget."""
    return templates.TemplateResponse(
        request,
        "chat/page.html",
        {"city": replies.CITY, "greeting": replies.GREETING, "embed": embed},
        headers=PAGE_HEADERS,
    )


@router.get("/chat/{name}", include_in_schema=False)
def chat_asset(name: str) -> FileResponse:
    """The page's stylesheet and scripts, and widget.js for other sites to include."""
    if name not in ASSETS:
        raise HTTPException(404, "no such file")
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=300"}
    if name == "widget.js":  # included from other sites' pages
        headers["Access-Control-Allow-Origin"] = "*"
    return FileResponse(STATIC / name, media_type=ASSETS[name], headers=headers)


@router.get("/favicon.ico", include_in_schema=False)
@router.get("/favicon.svg", include_in_schema=False)
def favicon(request: Request) -> FileResponse:
    """The helpline's icon: a speech bubble; ICO at 16, 32 and 48 px rendered from the SVG."""
    name = request.url.path.lstrip("/")
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=86400"}
    return FileResponse(STATIC / name, media_type=ICONS[name], headers=headers)


@router.post("/api/v1/transcript", response_model=list[TranscriptTurn])
async def transcript(request: Request, response: Response, rt: RuntimeDep) -> list[TranscriptTurn]:
    """The conversation's recent turns, so that a reloaded chat page shows it again.

    Whose turns: only the session cookie says (channels/rest_sender), as for the notices.
    """
    sender = await run_in_threadpool(web_sender, request, response, rt)
    turns = await run_in_threadpool(
        rt.assistant.recent_turns, WEB_CHANNEL, sender, TRANSCRIPT_TURNS
    )
    signed = await run_in_threadpool(_signatures, rt, sender)
    return [
        TranscriptTurn(
            who=WHO.get(t.direction, "bot"),
            author=signed.get(t.text) if t.direction == "staff" else None,
            automatic=t.direction == "staff" and t.text in signed and signed[t.text] is None,
            text=t.text,
            parts=text_parts(t.text),
            created_at=t.created_at,
        )
        for t in turns
        if t.text
    ]


def _signatures(runtime: Runtime, sender: str) -> dict[str, str | None]:
    """What each of the session's notices was signed with, by its text (the newest wins)."""
    with runtime.db.sessions() as session:
        rows = session.execute(
            select(Notice.text, Notice.author)
            .where(Notice.channel == WEB_CHANNEL, Notice.address == sender)
            .order_by(Notice.id.desc())
            .limit(TRANSCRIPT_TURNS * 2)
        ).all()
    return {text: author for text, author in reversed(rows)}
