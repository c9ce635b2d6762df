"""'What would the bot say?': the intent, the retrieval hits and each channel's reply, changing
nothing.

The reply comes from a second ``Assistant`` over the same parts as the real one, whose database
transactions always roll back and whose answerer does not record unanswered questions; the
preview sender is a fresh random one each time, so no resident's conversation is touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from bot.actions.answer import Answerer
from bot.assistant import Assistant, InputTooLong
from bot.contract import InboundMessage, Reply, clean_text
from bot.runtime import Runtime
from bot.storage.db import Database
from channels import sms, telegram
from voice.call import choice_prompt, speakable

MAX_QUESTION_CHARS = 500
PREVIEW_CHANNEL = "preview"
NO_QUESTION = "The question has no readable text: type it again."


class RolledBack:
    """The part of ``Database`` the assistant uses, with every transaction rolled back."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._db.sessions() as session:
            session.begin()
            try:
                yield session
            finally:
                session.rollback()


class _NoRecording:
    """The knowledge service, except that unanswered questions are not recorded."""

    def __init__(self, service: Any) -> None:
        self._service = service

    def record_unanswered(self, text: str, language: str, channel: str) -> int:
        return 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)


def dry_run_assistant(runtime: Runtime) -> Assistant:
    real = runtime.assistant
    return Assistant(
        db=RolledBack(runtime.db),  # type: ignore[arg-type]
        interpreter=real.interpreter,
        answerer=Answerer(
            real.answerer.search,
            _NoRecording(runtime.knowledge),
            real.answerer.thresholds,
            real.answerer.districts,
        ),  # type: ignore[arg-type]
        report=real.report,
        catalogue=real.catalogue,
        hasher=real.hasher,
        session_ttl=real.session_ttl,
        max_text_chars=real.max_text_chars,
        languages=real.languages,
        clock=real.clock,
        office_hours=real.office_hours,
        zone=real.zone,
        triage=real.triage,
        lines=real.lines,
    )


@dataclass
class ChannelReply:
    channel: str
    label: str
    parts: list[str]
    buttons: list[str] = field(default_factory=list)
    note: str = ""


@dataclass
class Preview:
    question: str
    intent: str | None
    confidence: float
    ranking: list[tuple[str, float]]
    entities: list[tuple[str, str]]
    hits: list[Any]
    reply: Reply | None
    channels: list[ChannelReply]
    error: str | None = None


def _voice(reply: Reply) -> ChannelReply:
    """What the phone line says, with voice/call.py's own rules: numbers digit by digit, no
    links, then every choice as a key to press (numbered across the reply)."""
    parts, number = [], 0
    for message in reply.messages:
        titles = [choice.title for choice in message.choices]
        spoken = speakable(message.spoken)
        if titles:
            spoken = f"{spoken} {choice_prompt(titles, start=number + 1)}"
        parts.append(spoken)
        number += len(titles)
    return ChannelReply("voice", "Phone", parts)


def render_channels(reply: Reply) -> list[ChannelReply]:
    web = ChannelReply(
        "web",
        "Web chat and REST API",
        [
            m.text + (f"\n(source: {m.source.title} - {m.source.url})" if m.source else "")
            for m in reply.messages
        ],
        [c.title for c in reply.choices],
    )
    tg_messages = telegram.render(reply)
    tg = ChannelReply(
        "telegram",
        "Telegram",
        [text for text, _ in tg_messages],
        [b.text for _, kb in tg_messages if kb for row in kb.inline_keyboard for b in row],
        "Telegram shows the text as HTML.",
    )
    first, rest = sms.fit(sms.render(reply))
    note = f"{sms.segments(first)} segment(s)"
    if rest:
        note += "; the rest follows when the resident replies MORE"
    return [web, tg, ChannelReply("sms", "SMS", [first], [], note), _voice(reply)]


def preview(runtime: Runtime, question: str, language: str | None = None) -> Preview:
    """Everything staff need to see why the bot answers a question the way it does."""
    question = " ".join(clean_text(question).split())[:MAX_QUESTION_CHARS]
    language = language or runtime.settings.default_language
    if not question:  # nothing but control characters: nothing to ask the bot
        return Preview(question, None, 0.0, [], [], [], None, [], NO_QUESTION)
    u = runtime.assistant.interpreter.parse(question)
    hits = runtime.search.search(question, u.vector, language=language, k=5)
    message = InboundMessage(
        channel=PREVIEW_CHANNEL,
        sender=f"preview-{uuid.uuid4().hex}",
        text=question,
        language=language,
    )
    error, reply = None, None
    try:
        reply = dry_run_assistant(runtime).handle(message)
    except InputTooLong as exc:
        error = str(exc)
    return Preview(
        question=question,
        intent=u.intent,
        confidence=u.confidence,
        ranking=list(u.ranking)[:3],
        entities=[(e.entity, e.value) for e in u.entities],
        hits=hits,
        reply=reply,
        channels=render_channels(reply) if reply else [],
        error=error,
    )
