"""The assistant: one turn in, one reply out, whatever the channel."""

from __future__ import annotations

import logging
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import replies, service_requests
from bot.actions.answer import Answerer
from bot.catalogue import Catalogue
from bot.contract import Choice, EntityOut, InboundMessage, OutboundMessage, Reply
from bot.dialogue import mood
from bot.dialogue.report import SLOT_ENTITIES, ReportPolicy, nothing_more
from bot.dialogue.state import DialogueState, ReportForm
from bot.dialogue.understanding import (
    QUESTION_CONFIDENCE,
    QUESTION_START,
    Interpreter,
    Understanding,
    parse_payload,
    payload,
    plainly_asks,
)
from bot.identity import Hasher
from bot.nlu.language import language_code
from bot.office_hours import OfficeHours
from bot.staff import handoffs
from bot.storage.db import Database
from bot.storage.models import Conversation, Handoff, ProcessedMessage, ServiceRequest, Turn
from bot.triage import CRISIS, Alert, Lines, Triage

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
PERSON = Choice(title="Talk to a person", payload=payload("talk_to_human"))
BACK_TO_BOT = Choice(title="Never mind, back to the assistant", payload=payload("cancel"))
DROP_CHOICES = [
    Choice(title="Yes, drop it", payload=payload("drop", "yes")),
    Choice(title="No, carry on", payload=payload("drop", "no")),
]
AFTER_HOURS = [
    Choice(title="Call me back", payload=payload("callback")),
    Choice(title="Leave a message", payload=payload("leave_message")),
]
# While a resident waits for a person, these still get the bot's answer.
SERVED_WHILE_WAITING = frozenset(
    ["ask_question", "report_problem", "check_status", "service", "request", "article",
     "details", "share_location", "help", "repeat", "slower", "change_language", "language"]
)  # fmt: skip
MISSES_BEFORE_PERSON = 2
SHORT_FAREWELL = 4  # words: a longer message with a goodbye in it is more likely an answer
_CANCEL_WORDS = re.compile(r"\b(?:cancel|delete|drop|scrap|withdraw|abort)\b", re.IGNORECASE)


class InputTooLong(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"text is longer than the limit of {limit} characters")
        self.limit = limit


def explicit_cancel(u: Understanding) -> bool:
    """ "cancel the report" drops it at once; "forget it" or "bye" mid-form asks first."""
    return u.text is None or bool(_CANCEL_WORDS.search(u.text))


def with_person(messages: list[OutboundMessage], text: str | None = None) -> list[OutboundMessage]:
    """The same messages with "Talk to a person" among the last one's choices."""
    if not messages or any(c.payload == PERSON.payload for m in messages for c in m.choices):
        return messages
    last = messages[-1]
    updated = last.model_copy(
        update={
            "text": f"{last.text} {text}" if text else last.text,
            "choices": [*last.choices, PERSON],
        }
    )
    return [*messages[:-1], updated]


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
        office_hours: OfficeHours | None = None,
        zone: ZoneInfo | None = None,
        triage: Triage | None = None,
        lines: Lines | None = None,
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
        self.office_hours = office_hours or OfficeHours.parse(None)
        self.zone = zone or ZoneInfo("UTC")
        self.triage = triage
        self.lines = lines or Lines()
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

    def recent_turns(self, channel: str, sender: str, limit: int = 40) -> list[Turn]:
        """The conversation so far, for a web chat page reloaded mid-conversation."""
        sender_key = self.hasher(f"{channel}:{sender}")
        with self.db.sessions() as session:
            conversation = session.scalar(
                select(Conversation).where(
                    Conversation.channel == channel, Conversation.sender_key == sender_key
                )
            )
            if conversation is None:
                return []
            turns = handoffs.transcript(session, conversation.id, limit)
            session.expunge_all()
            return turns

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
            alert = self._triage(prepared)
            messages = self._alert(ctx, u, alert) if alert else self._respond(ctx, u)
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
                alert=alert.kind if alert else None,
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

    # -- triage: before anything else ---------------------------------------------------
    def _triage(self, prepared: Understanding | None) -> Alert | None:
        """Free text only: a pressed key or a payload is an answer to something we offered."""
        if self.triage is None or prepared is None:
            return None
        return self.triage.assess(prepared.text, prepared.features, prepared.raw_text)

    def _alert(self, ctx: TurnContext, u: Understanding, alert: Alert) -> list[OutboundMessage]:
        """A resident in danger: the number first, staff told, an open report kept for later."""
        conversation, state = ctx.conversation, ctx.state
        conversation.alert, conversation.alert_at = alert.kind, ctx.now
        self._flag_for_staff(ctx, alert)
        crisis = alert.kind == CRISIS
        numbers = {"emergency": self.lines.emergency, "crisis": self.lines.crisis}
        spoken = {name: " ".join(number) for name, number in numbers.items()}
        text = (replies.CRISIS if crisis else replies.EMERGENCY).format(**numbers)
        if own := (replies.CRISIS_IN if crisis else replies.EMERGENCY_IN).get(alert.language):
            text = f"{own.format(**numbers)}\n{text}"  # the resident's language first
        first = OutboundMessage(
            text=text,
            speech=(replies.CRISIS_SPOKEN if crisis else replies.EMERGENCY_SPOKEN).format(**spoken),
            alert=alert.kind,
        )
        if not alert.sure:  # perhaps: the number first, then the turn as usual
            return [first, *self._respond(ctx, u)]
        if state.form is not None:
            prompt = self.report.next_message(state.form, u.vector)
            rest = [
                OutboundMessage(
                    text=replies.ALERT_FORM_KEPT.format(prompt=prompt.text), choices=prompt.choices
                )
            ]
        elif (
            u.intent == "ask_question"
            and (answer := self._answer(ctx, u))
            and (ctx.outcome == "answered")
        ):  # "what do I do, he isn't breathing?": the article after the number
            rest = answer
        else:
            ctx.unanswered = None  # no time to note a missing article
            follow = replies.CRISIS_FOLLOW_UP if crisis else replies.EMERGENCY_FOLLOW_UP
            rest = [OutboundMessage(text=follow.format(**numbers), choices=[MENU[2]])]
        ctx.outcome = alert.kind
        return [first, *rest]

    def _flag_for_staff(self, ctx: TurnContext, alert: Alert) -> None:
        """An open handoff carries the alert to the top of the staff inbox; one per conversation."""
        handoff = handoffs.open_handoff(ctx.session, ctx.conversation.id)
        if handoff is None:
            handoff = Handoff(
                conversation_id=ctx.conversation.id,
                reason=f"triage: {alert.kind} ({alert.detail.replace('_', ' ')})",
                created_at=ctx.now,
                reply_address=ctx.message.sender,
            )
            ctx.session.add(handoff)
        handoff.alert = alert.kind

    # -- policy --------------------------------------------------------------------------
    def _respond(self, ctx: TurnContext, u: Understanding) -> list[OutboundMessage]:
        state = ctx.state
        if u.intent is None:
            ctx.outcome = "not_understood"
            text = replies.AUDIO_ONLY if ctx.message.audio else replies.NOT_UNDERSTOOD
            return [OutboundMessage(text=text, choices=MENU)]
        if where := self._district_of(u):  # for answers that differ by district, later on
            state.where = [where[0], where[1] or ""]
        is_upset = u.picked is None and mood.upset(u.raw_text or u.text, state.last_digest)
        if u.text:
            state.last_digest = mood.digest(u.raw_text or u.text)
        if ctx.conversation.status == "handoff":
            messages = self._while_waiting(ctx, u)
        else:
            messages = self._route(ctx, u)
        if is_upset and not any(m.handoff for m in messages):
            if ctx.outcome in ("unanswered", "out_of_scope", "not_understood"):
                ctx.unanswered = None  # a complaint, not a question for the knowledge base
                return [OutboundMessage(text=replies.APOLOGY, choices=[PERSON, *MENU[:2]])]
            messages = [OutboundMessage(text=replies.APOLOGY), *with_person(messages)]
        return messages

    def _route(self, ctx: TurnContext, u: Understanding) -> list[OutboundMessage]:
        state, form = ctx.state, ctx.state.form
        awaited = self._awaited(ctx, u)
        if awaited is not None:
            return awaited
        strong = u.confidence >= (FORM_GLOBAL_CONFIDENCE if form else GLOBAL_CONFIDENCE)
        if strong and (control := self._control(ctx, u)) is not None:
            return control
        if u.intent in ("article", "details"):
            article = article_id(u.argument)
            if article is None:  # a payload no button of ours carries
                ctx.outcome = "not_understood"
                return self._resume([OutboundMessage(text=replies.NOT_UNDERSTOOD)], ctx, u)
            ctx.outcome = "answered"
            if u.intent == "article":
                return self._resume([self._article(ctx, article, u)], ctx, u)
            message = self.answerer.article_message(article, detailed=True)
            return self._resume([message], ctx, u)
        if state.awaiting == "status_phone" and u.entity("phone"):
            return self._status(ctx, u, state.pending_reference)
        state.awaiting = None
        if form is not None:
            return self._continue_form(ctx, u, form)
        if u.intent in ("report_problem", "service", "share_location") or self._telling(u):
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
        if u.intent in ("affirm", "deny", "none_of_these"):
            return [OutboundMessage(text=replies.NOT_UNDERSTOOD, choices=MENU)]
        return self._answer(ctx, u)

    def _telling(self, u: Understanding) -> bool:
        """ "they didn't empty my bin this morning": not a question but a problem told, which
        the classifier found nearly as likely a report as a question."""
        ranked = [intent for intent, _ in u.ranking[:2]]
        if u.intent != "ask_question" or u.confidence >= QUESTION_CONFIDENCE:
            return False
        if "report_problem" not in ranked or u.vector is None:
            return False
        if (u.text or "").rstrip().endswith("?") or QUESTION_START.match(u.text or ""):
            return False
        return u.has_any("service_type") or self.report.recognise_service(u.vector) is not None

    def _awaited(self, ctx: TurnContext, u: Understanding) -> list[OutboundMessage] | None:
        """The answer to a yes/no or follow-up question outside the form's own slots."""
        state = ctx.state
        awaiting = state.awaiting or ""
        if awaiting == "drop" and u.intent == "drop":
            state.awaiting = None
            if u.argument == "yes":
                state.form = None
                return [OutboundMessage(text=replies.CANCELLED)]
            form = state.form
            prompt = self.report.next_message(form, u.vector) if form else None
            return [OutboundMessage(text=replies.KEPT), *([prompt] if prompt else [])]
        if awaiting == "callback_phone" and (phone := u.entity("phone")):
            state.awaiting = None
            self._note_on_handoff(ctx, f"call back on {phone.value}")
            return [
                OutboundMessage(
                    text=replies.CALLBACK_NOTED.format(
                        phone=phone.value, when=self._staff_when(ctx)
                    )
                )
            ]
        if awaiting == "staff_message" and u.text and u.intent not in ("cancel", "talk_to_human"):
            state.awaiting = None
            return [
                OutboundMessage(text=replies.STAFF_MESSAGE_NOTED.format(when=self._staff_when(ctx)))
            ]
        if awaiting.startswith("district:") and (district := self._district_of(u)):
            state.awaiting = None
            article_id = int(awaiting.removeprefix("district:"))
            return self._resume([self._article_for(article_id, district)], ctx, u)
        return None

    def _while_waiting(self, ctx: TurnContext, u: Understanding) -> list[OutboundMessage]:
        """Waiting for a person is no dead end: the bot still answers, and "never mind" or
        "cancel" stops the wait."""
        ctx.outcome = "handoff"
        state = ctx.state
        if u.intent == "cancel" and state.form is None and u.confidence >= GLOBAL_CONFIDENCE:
            handoffs.withdraw(ctx.session, ctx.conversation, ctx.now)
            state.awaiting = None
            return [OutboundMessage(text=replies.LEFT_QUEUE)]
        if u.intent == "talk_to_human" and u.confidence >= GLOBAL_CONFIDENCE:
            return [OutboundMessage(text=replies.ALREADY_WAITING, handoff=True)]
        if u.intent in ("callback", "leave_message"):
            return self._after_hours_choice(ctx, u.intent)
        served = (
            state.form is not None
            or state.awaiting is not None
            or (u.intent in SERVED_WHILE_WAITING and u.confidence >= GLOBAL_CONFIDENCE)
        )
        if not served:
            return [OutboundMessage(text=replies.HANDOFF_WAITING, choices=[BACK_TO_BOT])]
        messages = self._route(ctx, u)
        if ctx.conversation.status != "handoff" or state.form is not None:
            return messages
        return [*messages, OutboundMessage(text=replies.STILL_WAITING)]

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
        if u.intent in ("cancel", "goodbye") and state.form is not None and not explicit_cancel(u):
            return self._ask_drop(ctx)
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
            u = self._contact_correction(form, u)
            if u.intent == "affirm" and not u.has_any(*SLOT_ENTITIES):
                return [self._file(ctx, form)]
            if u.intent == "deny" and not u.has_any(*SLOT_ENTITIES) and u.location is None:
                return [self.report.what_to_change()]
        question = (u.text or "").rstrip().endswith("?")
        digression = (
            u.intent in ("ask_question", "check_status")
            # "whats the number for the library?" at 0.58 is still a question, not an answer
            and (u.confidence >= DIGRESSION_CONFIDENCE or plainly_asks(u))
            and (question or not u.has_any(*SLOT_ENTITIES))
            and u.location is None
            and (form.asking != "description" or question)
        )
        if digression:
            if u.intent == "check_status":
                return self._resume(self._status(ctx, u, None), ctx, u)
            return self._resume(self._answer(ctx, u), ctx, u)
        parting = (
            ("cancel", "goodbye", "thank")
            if form.asking == "description"
            else ("cancel", "goodbye")
        )
        farewell = u.intent in parting and len((u.text or "").split()) <= SHORT_FAREWELL
        if farewell and not (form.asking == "description" and nothing_more(u)):
            return self._ask_drop(ctx)
        if u.intent == "none_of_these" and form.asking == "service":
            return [OutboundMessage(text=replies.NONE_FITS_SERVICE)]
        before = form.model_copy(deep=True)
        problem = self.report.fill(form, u)
        if problem:
            form.misses += 1
            choices = []
            if form.asking == "place" and u.text:
                choices = [
                    Choice(title=name, payload=payload("locate", name))
                    for name in self.report.city.suggest_streets(u.text, 3)
                ]
            return self._maybe_person(form, [OutboundMessage(text=problem, choices=choices)])
        if form.place_options:
            first, second = (self.report.place_words(p) for p in form.place_options)
            form.asking = "which_place"
            return [
                OutboundMessage(
                    text=replies.WHICH_PLACE.format(first=first, second=second),
                    choices=[
                        Choice(title=p.address, payload=payload("pick_place", str(i)))
                        for i, p in enumerate(form.place_options)
                    ],
                )
            ]
        asked = before.asking
        prompt = self.report.next_message(form, u.vector)
        unchanged = form == before or (
            form.confirming
            and before.confirming
            and form.model_dump(exclude={"asking", "confirming"})
            == before.model_dump(exclude={"asking", "confirming"})
        )
        if not unchanged:
            form.misses = 0
            return [prompt]
        if self.report.add_details(form, u):
            return [OutboundMessage(text=replies.ADDED_DETAILS), prompt]
        form.misses += 1
        hint = self._hint(asked, before.confirming, prompt)
        text = " ".join(t for t in (replies.SAY_AGAIN, prompt.text, hint) if t)
        return self._maybe_person(form, [OutboundMessage(text=text, choices=prompt.choices)])

    @staticmethod
    def _ask_drop(ctx: TurnContext) -> list[OutboundMessage]:
        """ "forget it", "thanks bye" mid-form: ask before losing the report."""
        ctx.state.awaiting = "drop"
        return [OutboundMessage(text=replies.ASK_DROP, choices=DROP_CHOICES)]

    def _contact_correction(self, form: ReportForm, u: Understanding) -> Understanding:
        """At the read-back, "actually just text me" changes how we keep in touch."""
        matcher = self.interpreter.matcher
        if matcher is None or not u.text:
            return u
        pick = matcher.pick(u.text, u.vector, self.report.contact_choices(form))
        if pick is None or pick.how != "phrase" or pick.choice is None:
            return u
        chosen = parse_payload(pick.choice.payload)
        if chosen is None or chosen[1] == (form.contact or "channel"):
            return u
        return replace(u, intent="contact", argument=chosen[1], picked=pick.how)

    def _hint(self, asked: str | None, confirming: bool, prompt: OutboundMessage) -> str:
        """What the bot can take, when it could not use an answer."""
        if confirming:
            return replies.CONFIRM_HINT
        if prompt.choices:
            titles = [f"'{c.title}'" for c in prompt.choices]
            options = ", ".join(titles[:-1]) + f" or {titles[-1]}" if len(titles) > 1 else titles[0]
            return replies.YOU_CAN_SAY.format(options=options)
        return replies.CHOICE_HINTS.get(asked or "", "")

    @staticmethod
    def _maybe_person(form: ReportForm, messages: list[OutboundMessage]) -> list[OutboundMessage]:
        """After two misses in a row, a person is offered beside the question."""
        if form.misses < MISSES_BEFORE_PERSON:
            return messages
        return [*messages[:-1], *with_person(messages[-1:], replies.OFFER_PERSON)]

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
            named = u.entity("service_type")
            if named and len(own) > 1:  # "any news on my street light report?"
                own = [r for r in own if r.service_code == named.value] or own
            if len(own) == 1:
                return [self._status_message(own[0])]
            if own:
                return [
                    OutboundMessage(
                        text=replies.WHICH_REQUEST,
                        choices=[
                            Choice(
                                title=self._request_title(r),
                                payload=payload("request", r.reference),
                            )
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

    def _request_title(self, request: ServiceRequest) -> str:
        """ "Street light out, 12 Elm Street, 3 December": how a resident knows their report."""
        service = self.catalogue.get(request.service_code)
        day = aware(request.created_at).astimezone(self.zone)
        return replies.REQUEST_TITLE.format(
            service=service.name if service else request.service_code,
            place=(request.address or "no address").split(",")[0],
            day=f"{day.day} {day:%B}",
        )

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
        if ctx.conversation.status == "handoff":
            return [OutboundMessage(text=replies.ALREADY_WAITING, handoff=True)]
        ctx.conversation.status = "handoff"
        if (
            handoffs.open_handoff(ctx.session, ctx.conversation.id) is None
        ):  # triage may have opened one already
            ctx.session.add(
                Handoff(
                    conversation_id=ctx.conversation.id,
                    reason=reason,
                    created_at=ctx.now,
                    reply_address=ctx.message.sender,  # where staff replies go (bot/staff/handoffs)
                )
            )
        hours = self.office_hours
        local = self._local(ctx)
        if hours.is_open(local):
            return [
                OutboundMessage(text=replies.HANDOFF.format(hours=hours.describe()), handoff=True)
            ]
        words = {"when": hours.when(local), "hours": hours.describe()}
        if ctx.message.channel == "voice":  # the phone line says how the caller hears back
            return [
                OutboundMessage(text=replies.HANDOFF_CLOSED_VOICE.format(**words), handoff=True)
            ]
        return [
            OutboundMessage(
                text=replies.HANDOFF_CLOSED.format(**words), handoff=True, choices=AFTER_HOURS
            )
        ]

    def _after_hours_choice(self, ctx: TurnContext, choice: str) -> list[OutboundMessage]:
        when = self._staff_when(ctx)
        if choice == "leave_message":
            ctx.state.awaiting = "staff_message"
            return [OutboundMessage(text=replies.ASK_STAFF_MESSAGE.format(when=when))]
        if ctx.message.channel in ("sms", "voice"):
            self._note_on_handoff(ctx, "call back on this number")
            return [OutboundMessage(text=replies.CALLBACK_NOTED_HERE.format(when=when))]
        ctx.state.awaiting = "callback_phone"
        return [OutboundMessage(text=replies.ASK_CALLBACK_PHONE)]

    def _note_on_handoff(self, ctx: TurnContext, note: str) -> None:
        """Tell staff, on the open handoff, how the resident wants to hear back."""
        handoff = handoffs.open_handoff(ctx.session, ctx.conversation.id)
        if handoff is not None:
            handoff.reason = f"{handoff.reason}; {note}"[:200]

    def _local(self, ctx: TurnContext) -> datetime:
        return ctx.now.astimezone(self.zone).replace(tzinfo=None)

    def _staff_when(self, ctx: TurnContext) -> str:
        local = self._local(ctx)
        return "soon" if self.office_hours.is_open(local) else self.office_hours.when(local)

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
        if answer.article_id is not None:
            return self._localised(ctx, answer.article_id, u) or answer.messages
        if answer.outcome == "suggested" and self._district_of(u):
            # "when is rubbish collected in Southport": of the close candidates, the one
            # that differs by district is the one a district was given for
            varying = [
                int(c.payload.partition(":")[2])
                for c in answer.messages[0].choices
                if c.payload.startswith(payload("article"))
                and self.answerer.varies_by_district(int(c.payload.partition(":")[2]))
            ]
            if len(varying) == 1:
                ctx.outcome = "answered"
                return self._localised(ctx, varying[0], u) or answer.messages
        return answer.messages

    def _article(self, ctx: TurnContext, article_id: int, u: Understanding) -> OutboundMessage:
        localised = self._localised(ctx, article_id, u)
        return localised[0] if localised else self.answerer.article_message(article_id)

    def _localised(
        self, ctx: TurnContext, article_id: int, u: Understanding
    ) -> list[OutboundMessage] | None:
        """An answer that differs by district, for the resident's street, or the question
        where they live."""
        if not self.answerer.varies_by_district(article_id):
            return None
        where = self._district_of(u) or (
            (ctx.state.where[0], ctx.state.where[1] or None) if ctx.state.where else None
        )
        if where is not None:
            return [self._article_for(article_id, where)]
        ctx.state.awaiting = f"district:{article_id}"
        return [OutboundMessage(text=replies.ASK_DISTRICT)]

    def _article_for(self, article_id: int, where: tuple[str, str | None]) -> OutboundMessage:
        district, street = where
        return self.answerer.district_message(article_id, district, street)

    def _district_of(self, u: Understanding) -> tuple[str, str | None] | None:
        """(district, street) from a street, a place or a district the message names."""
        city = self.report.city
        if u.location is not None and (found := city.nearest(u.location.lat, u.location.lon)):
            return found[1].name, found[0].name
        if (entity := u.entity("street")) and (street := city.find_street(entity.value)):
            return street.district, street.name
        if (entity := u.entity("place")) and (place := city.place(entity.value)):
            return place.district, place.name
        if entity := u.entity("district"):
            return entity.value, None
        return None


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
