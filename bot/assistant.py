"""The assistant: one turn in, one reply out, whatever the channel."""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import replies, service_requests
from bot.actions.answer import Answerer
from bot.catalogue import Catalogue
from bot.contract import Choice, EntityOut, InboundMessage, OutboundMessage, Reply
from bot.dialogue.report import SLOT_ENTITIES, ReportPolicy
from bot.dialogue.state import DialogueState, ReportForm
from bot.dialogue.understanding import Interpreter, Understanding, payload
from bot.identity import Hasher
from bot.nlu.language import language_code
from bot.storage.db import Database
from bot.storage.models import Conversation, Handoff, ProcessedMessage, ServiceRequest, Turn

log = logging.getLogger(__name__)

GLOBAL_CONFIDENCE = 0.5  # control intents outside a form
FORM_GLOBAL_CONFIDENCE = 0.8  # inside a form, free text is usually an answer to our question
DIGRESSION_CONFIDENCE = 0.6
LOCK_STRIPES = 256
MAX_ID_DIGITS = 18  # ids fit a signed 64-bit integer, in every database
MENU = [
    Choice(title="Report a problem", payload=payload("report_problem")),
    Choice(title="Check a report", payload=payload("check_status")),
    Choice(title="Talk to a person", payload=payload("talk_to_human")),
]


class InputTooLong(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"text is longer than the limit of {limit} characters")
        self.limit = limit


def article_id(argument: str | None) -> int | None:
    """An article id from a payload ("/details:12"); None for anything a table cannot hold."""
    if argument and argument.isascii() and argument.isdigit() and len(argument) <= MAX_ID_DIGITS:
        return int(argument)
    return None


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class TurnContext:
    session: Session
    conversation: Conversation
    state: DialogueState
    message: InboundMessage
    now: datetime
    outcome: str | None = None
    unanswered: str | None = None
    filed_reference: str | None = None
    prefs: dict[str, str] = field(default_factory=dict)


class Assistant:
    def __init__(
        self,
        *,
        db: Database,
        interpreter: Interpreter,
        answerer: Answerer,
        report: ReportPolicy,
        catalogue: Catalogue,
        hasher: Hasher,
        session_ttl: timedelta = timedelta(minutes=30),
        max_text_chars: int = 4000,
        languages: tuple[str, ...] = ("en",),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.interpreter = interpreter
        self.answerer = answerer
        self.report = report
        self.catalogue = catalogue
        self.hasher = hasher
        self.session_ttl = session_ttl
        self.max_text_chars = max_text_chars
        self.languages = languages
        self.clock = clock
        self._locks = [threading.Lock() for _ in range(LOCK_STRIPES)]

    # -- the contract --------------------------------------------------------------------
    def handle(self, message: InboundMessage) -> Reply:
        """Answer one message; a repeated message id gets the same reply and changes nothing."""
        if message.text and len(message.text) > self.max_text_chars:
            raise InputTooLong(self.max_text_chars)
        sender_key = self.hasher(f"{message.channel}:{message.sender}")
        started = time.perf_counter()
        with self._sender_lock(sender_key):
            try:
                reply = self._handle(message, sender_key)
            except IntegrityError:  # another instance created the conversation first
                reply = self._handle(message, sender_key)
        log.info(
            "turn channel=%s intent=%s ms=%.1f",
            message.channel,
            reply.intent,
            (time.perf_counter() - started) * 1000,
        )
        return reply

    @contextmanager
    def _sender_lock(self, sender_key: str) -> Iterator[None]:
        """Turns of one sender never interleave here; a row lock orders them across processes."""
        with self._locks[zlib.crc32(sender_key.encode()) % LOCK_STRIPES]:
            yield

    def _handle(self, message: InboundMessage, sender_key: str) -> Reply:
        prepared = self.interpreter.prepare(message)
        with self.db.transaction() as session:
            done = session.get(ProcessedMessage, (message.channel, sender_key, message.message_id))
            if done is not None:
                return Reply.model_validate(done.reply)
            now = self.clock()
            conversation = self._conversation(session, message, sender_key, now)
            state = DialogueState.model_validate(conversation.state or {})
            if now - aware(conversation.last_active_at) > self.session_ttl:
                state = DialogueState()
            state.attachments.update(_attachments(message))
            ctx = TurnContext(
                session, conversation, state, message, now, prefs=dict(conversation.prefs or {})
            )
            u = self.interpreter.understand(message, state.choices, prepared)
            messages = self._respond(ctx, u)
            if u.intent not in ("repeat", "slower"):
                state.last_messages = messages
            state.choices = [c for m in messages for c in m.choices]
            conversation.state = state.model_dump(mode="json", exclude_none=True)
            conversation.prefs = ctx.prefs
            conversation.last_active_at = now
            reply = Reply(
                messages=messages,
                intent=u.intent,
                confidence=round(u.confidence, 4),
                entities=[
                    EntityOut(
                        entity=e.entity, value=e.value, text=e.text, role=e.role, group=e.group
                    )
                    for e in u.entities
                ],
                filed_reference=ctx.filed_reference,
                handoff=any(m.handoff for m in messages),
                language=conversation.language,
                prefs=ctx.prefs,
            )
            session.add_all(
                [
                    Turn(
                        conversation_id=conversation.id,
                        direction="in",
                        created_at=now,
                        text=message.text
                        or message.dtmf
                        or ("[location]" if message.location else ""),
                        intent=u.intent,
                        confidence=u.confidence,
                    ),
                    Turn(
                        conversation_id=conversation.id,
                        direction="bot",
                        created_at=now,
                        text=reply.text,
                        outcome=ctx.outcome,
                    ),
                    ProcessedMessage(
                        channel=message.channel,
                        sender_key=sender_key,
                        message_id=message.message_id,
                        reply=reply.model_dump(mode="json"),
                        created_at=now,
                    ),
                ]
            )
        if ctx.unanswered:
            self.answerer.record_unanswered(ctx.unanswered, reply.language, message.channel)
        return reply

    def _conversation(
        self, session: Session, message: InboundMessage, sender_key: str, now: datetime
    ) -> Conversation:
        conversation = session.scalar(
            select(Conversation)
            .where(Conversation.channel == message.channel, Conversation.sender_key == sender_key)
            .with_for_update()
        )
        if conversation is None:
            conversation = Conversation(
                channel=message.channel,
                sender_key=sender_key,
                state={},
                prefs={},
                language=message.language or self.languages[0],
                created_at=now,
                last_active_at=now,
            )
            session.add(conversation)
            session.flush()
        return conversation

    # -- policy --------------------------------------------------------------------------
    def _respond(self, ctx: TurnContext, u: Understanding) -> list[OutboundMessage]:
        state, form = ctx.state, ctx.state.form
        if u.intent is None:
            ctx.outcome = "not_understood"
            text = replies.AUDIO_ONLY if ctx.message.audio else replies.NOT_UNDERSTOOD
            return [OutboundMessage(text=text, choices=MENU)]
        if ctx.conversation.status == "handoff":
            ctx.outcome = "handoff"
            return [OutboundMessage(text=replies.HANDOFF_WAITING, handoff=True)]
        strong = u.confidence >= (FORM_GLOBAL_CONFIDENCE if form else GLOBAL_CONFIDENCE)
        if strong and (control := self._control(ctx, u)) is not None:
            return control
        if u.intent in ("article", "details"):
            article = article_id(u.argument)
            if article is None:  # a payload no button of ours carries
                ctx.outcome = "not_understood"
                return self._resume([OutboundMessage(text=replies.NOT_UNDERSTOOD)], ctx, u)
            ctx.outcome = "answered"
            message = self.answerer.article_message(article, detailed=u.intent == "details")
            return self._resume([message], ctx, u)
        if state.awaiting == "status_phone" and u.entity("phone"):
            return self._status(ctx, u, state.pending_reference)
        state.awaiting = None
        if form is not None:
            return self._continue_form(ctx, u, form)
        if u.intent in ("report_problem", "service", "share_location"):
            state.form = ReportForm(channel=ctx.message.channel)
            problem = self.report.fill(state.form, u, first=True)
            ctx.outcome = "form"
            return self._form_prompt(state.form, u, problem)
        if u.intent in ("check_status", "request") or u.entity("reference"):
            return self._status(ctx, u, u.argument)
        simple = {"greet": replies.GREETING, "thank": replies.THANKS}
        if u.intent in simple:
            return [OutboundMessage(text=simple[u.intent])]
        if u.intent == "goodbye":
            return [OutboundMessage(text=replies.GOODBYE, ends_conversation=True)]
        if u.intent in ("affirm", "deny"):
            return [OutboundMessage(text=replies.NOT_UNDERSTOOD, choices=MENU)]
        return self._answer(ctx, u)

    def _control(self, ctx: TurnContext, u: Understanding) -> list[OutboundMessage] | None:
        """Intents that work at any point: person, repeat, slower, cancel, help, language."""
        state = ctx.state
        if u.intent == "talk_to_human":
            return self._handoff(ctx, "asked for a person")
        if u.intent == "repeat":
            return state.last_messages or [OutboundMessage(text=replies.NOTHING_TO_REPEAT)]
        if u.intent == "slower":
            ctx.prefs["speech_rate"] = "slow"
            return [OutboundMessage(text=replies.SLOWER), *state.last_messages]
        if u.intent == "cancel":
            cancelled, state.form = state.form is not None, None
            return [
                OutboundMessage(text=replies.CANCELLED if cancelled else replies.NOTHING_TO_CANCEL)
            ]
        if u.intent == "help":
            return self._resume(
                [OutboundMessage(text=replies.HELP, choices=[] if state.form else MENU)], ctx, u
            )
        if u.intent in ("change_language", "language"):
            return self._language(ctx, u)
        return None

    def _resume(
        self, messages: list[OutboundMessage], ctx: TurnContext, u: Understanding
    ) -> list[OutboundMessage]:
        """After a digression, ask again for what the form was waiting for."""
        form = ctx.state.form
        if form is None:
            return messages
        prompt = self.report.next_message(form, u.vector)
        return [
            *messages,
            OutboundMessage(text=f"{replies.RESUME} {prompt.text}", choices=prompt.choices),
        ]

    def _continue_form(
        self, ctx: TurnContext, u: Understanding, form: ReportForm
    ) -> list[OutboundMessage]:
        ctx.outcome = "form"
        if u.intent == "change" and u.argument:
            self.report.clear(form, u.argument)
            return [self.report.next_message(form, u.vector)]
        if form.confirming:
            if u.intent == "affirm" and not u.has_any(*SLOT_ENTITIES):
                return [self._file(ctx, form)]
            if u.intent == "deny" and not u.has_any(*SLOT_ENTITIES) and u.location is None:
                return [self.report.what_to_change()]
        question = (u.text or "").rstrip().endswith("?")
        digression = (
            u.intent in ("ask_question", "check_status")
            and u.confidence >= DIGRESSION_CONFIDENCE
            and (question or not u.has_any(*SLOT_ENTITIES))
            and u.location is None
            and (form.asking != "description" or question)
        )
        if digression:
            if u.intent == "check_status":
                return self._resume(self._status(ctx, u, None), ctx, u)
            return self._resume(self._answer(ctx, u), ctx, u)
        before = form.model_copy(deep=True)
        problem = self.report.fill(form, u)
        if problem:
            choices = []
            if form.asking == "place" and u.text:
                choices = [
                    Choice(title=name, payload=payload("locate", name))
                    for name in self.report.city.suggest_streets(u.text, 3)
                ]
            return [OutboundMessage(text=problem, choices=choices)]
        prompt = self.report.next_message(form, u.vector)
        if form == before or (
            form.confirming
            and before.confirming
            and form.model_dump(exclude={"asking", "confirming"})
            == before.model_dump(exclude={"asking", "confirming"})
        ):
            prompt = OutboundMessage(
                text=f"Sorry, I didn't get that. {prompt.text}", choices=prompt.choices
            )
        return [prompt]

    def _form_prompt(
        self, form: ReportForm, u: Understanding, problem: str | None
    ) -> list[OutboundMessage]:
        prompt = self.report.next_message(form, u.vector)
        if problem:
            return [OutboundMessage(text=problem), prompt]
        return [prompt]

    def _file(self, ctx: TurnContext, form: ReportForm) -> OutboundMessage:
        message, place = ctx.message, form.place
        phone_for_lookup = form.phone or (
            message.sender if message.channel in ("sms", "voice") else None
        )
        fields = {**ctx.state.attachments, **form.fields}
        ctx.state.attachments = {}
        if form.phone:
            fields["contact_phone"] = form.phone
        request = ServiceRequest(
            service_code=form.service_code or "",
            description=form.description or "",
            address=place.address if place else None,
            street=place.street if place else None,
            district=place.district if place else None,
            lat=place.lat if place else None,
            lon=place.lon if place else None,
            fields=fields,
            contact_preference=form.contact or "channel",
            contact_phone_hash=self.hasher(phone_for_lookup) if phone_for_lookup else None,
            channel=message.channel,
            reply_address=None if form.contact == "none" else message.sender,
            conversation_id=ctx.conversation.id,
            language=ctx.conversation.language,
            created_at=ctx.now,
        )
        service_requests.file_request(ctx.session, request, actor="assistant")
        ctx.state.form = None
        ctx.outcome = "filed"
        ctx.filed_reference = request.reference
        reference = request.reference or ""
        return OutboundMessage(
            text=replies.FILED.format(reference=reference),
            speech=replies.FILED_SPOKEN.format(spoken=replies.spoken_reference(reference)),
        )

    def _status(
        self, ctx: TurnContext, u: Understanding, reference: str | None
    ) -> list[OutboundMessage]:
        ctx.outcome = "status"
        state, session = ctx.state, ctx.session
        entity = u.entity("reference")
        reference = entity.value if entity else reference
        state.awaiting, state.pending_reference = None, None
        if not reference:
            own = service_requests.of_conversation(session, ctx.conversation)
            if len(own) == 1:
                return [self._status_message(own[0])]
            if own:
                return [
                    OutboundMessage(
                        text=replies.WHICH_REQUEST,
                        choices=[
                            Choice(title=r.reference or "", payload=payload("request", r.reference))
                            for r in own
                        ],
                    )
                ]
            return [OutboundMessage(text=replies.ASK_REFERENCE)]
        request = service_requests.find(session, reference)
        if request is None:
            return [OutboundMessage(text=replies.REFERENCE_NOT_FOUND.format(reference=reference))]
        if request.conversation_id == ctx.conversation.id:
            return [self._status_message(request)]
        phone = u.entity("phone")
        if phone is not None:
            if (
                request.contact_phone_hash
                and self.hasher(phone.value) == request.contact_phone_hash
            ):
                return [self._status_message(request)]
            return [OutboundMessage(text=replies.STATUS_PHONE_MISMATCH)]
        state.awaiting, state.pending_reference = "status_phone", request.reference
        return [OutboundMessage(text=replies.STATUS_PRIVATE)]

    def _status_message(self, request: ServiceRequest) -> OutboundMessage:
        service = self.catalogue.get(request.service_code)
        reference = request.reference or ""
        text = replies.STATUS.format(
            reference=reference,
            service=service.name if service else request.service_code,
            status=replies.STATUS_WORDS.get(request.status, request.status),
            updated=aware(request.updated_at).strftime("%d %B %Y"),
        )
        if request.status_note:
            text = f"{text} Note: {request.status_note}"
        return OutboundMessage(
            text=text, speech=text.replace(reference, replies.spoken_reference(reference))
        )

    def _handoff(self, ctx: TurnContext, reason: str) -> list[OutboundMessage]:
        ctx.outcome = "handoff"
        ctx.state.form = None
        ctx.conversation.status = "handoff"
        ctx.session.add(
            Handoff(
                conversation_id=ctx.conversation.id,
                reason=reason,
                created_at=ctx.now,
                reply_address=ctx.message.sender,  # where staff replies go (bot/staff/handoffs)
            )
        )
        return [OutboundMessage(text=replies.HANDOFF, handoff=True)]

    def _language(self, ctx: TurnContext, u: Understanding) -> list[OutboundMessage]:
        named = u.argument or (e.value if (e := u.entity("language")) else None)
        wanted = language_code(named) if named else None
        if wanted in self.languages:
            ctx.conversation.language = wanted
            return [OutboundMessage(text=replies.LANGUAGE_SET.format(language=wanted))]
        return [
            OutboundMessage(
                text=replies.LANGUAGES.format(languages=", ".join(self.languages)),
                choices=[
                    Choice(title=code, payload=payload("language", code)) for code in self.languages
                ],
            )
        ]

    def _answer(self, ctx: TurnContext, u: Understanding) -> list[OutboundMessage]:
        language = ctx.conversation.language
        hits = None
        if u.intent == "out_of_scope":
            hits = self.answerer.hits(u, language)
            if not hits or hits[0].score < self.answerer.thresholds.answer:
                ctx.outcome = "out_of_scope"
                return [OutboundMessage(text=replies.OUT_OF_SCOPE, choices=MENU)]
        answer = self.answerer.answer(u, language, hits)
        ctx.outcome = answer.outcome
        if answer.outcome == "unanswered":
            ctx.unanswered = u.text
        return answer.messages


# What a channel may attach to a report: a picture's public URL (an MMS), or a Telegram
# photo's file id (its file URL would carry the bot's token).
ATTACHMENTS = ("media_url", "telegram_photo")


def _attachments(message: InboundMessage) -> dict[str, str]:
    """A channel's attachments (``metadata["attachments"]``), only the names above."""
    given = message.metadata.get("attachments")
    if not isinstance(given, dict):
        return {}
    kept = {n: given[n][:1000] for n in ATTACHMENTS if isinstance(given.get(n), str) and given[n]}
    if not kept.get("media_url", "https://").lower().startswith(("https://", "http://")):
        del kept["media_url"]
    return kept
