"""SMS through Twilio: the inbound webhook answers with TwiML, in at most two segments.

In the order Twilio's messaging webhook works: the request is signed (``X-Twilio-Signature``
over the URL Twilio called and the form fields, checked with twilio's ``RequestValidator``);
the form is a typed ``TwilioSms``; the answer is TwiML built with twilio's
``MessagingResponse``. A MessageSid seen before gets the same TwiML again (``channel_receipts``).

Keywords, as carriers require (whole message only, any case, surrounding punctuation ignored):

- STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, OPTOUT, REVOKE: the number is opted out
  (kept as a keyed hash), gets one confirmation and then nothing at all, notices included.
- START, UNSTOP (and YES, from an opted-out number only): opted in again.
- HELP, INFO: who we are, how to stop. Not sent on to the assistant.

CANCEL is also the assistant's in-dialogue cancel word. Carriers (and Twilio's own opt-out
handling, which blocks the number on its side) treat a bare CANCEL as an opt-out, so we do
too: only a message that is exactly the keyword opts out; "cancel the report", "never
mind" or "stop the report" reach the assistant and cancel the report. The opt-out
confirmation for CANCEL says how to get back and cancel just the report.

A reply longer than two segments (GSM-7: 153 septets a segment when concatenated, extension
characters counting double; UCS-2: 67 code units) ends with "Reply MORE for the rest" and
the rest waits in ``channel_sessions`` until the resident sends MORE; a label and its link
("More: https://...") are never cut apart. An MMS's first picture (``MediaUrl0``) goes with
the resident's next report as its ``media_url``; a picture with no words is asked for them.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from twilio.request_validator import (
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)
from twilio.twiml.messaging_response import MessagingResponse

from bot.contract import InboundMessage, Reply
from bot.replies import CITY
from bot.runtime import Runtime
from bot.settings import Settings, secret_text
from bot.storage.channel_state import ChannelReceipt, ChannelSession, OptOut, prove
from bot.storage.models import Notice
from channels.deps import get_runtime
from channels.rate_limit import SLOW_DOWN, RateLimiter
from channels.request_limits import MAX_FORM_FIELDS

log = logging.getLogger(__name__)
router = APIRouter(tags=["sms"])

CHANNEL = "sms"
SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_SEGMENTS = 2
OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
OPT_IN = {"START", "UNSTOP"}
HELP = {"HELP", "INFO"}
MORE = "MORE"

MORE_HINT = "Reply MORE for the rest."
STOPPED = (
    f"You will get no more messages from the {CITY} city helpline. "
    "Reply START to get messages again."
)
STOPPED_CANCEL = (
    f"{STOPPED} If you only wanted to stop a report, reply START, then 'cancel the report'."
)
STARTED = (
    f"Welcome back to the {CITY} city helpline. Send your question, or reply HELP for help. "
    "Reply STOP to stop messages."
)
HELP_TEXT = (
    f"{CITY} city helpline: ask about city services or report a problem, like a pothole. "
    "Ask for a person at any time. Reply STOP to stop messages. Msg&data rates may apply."
)
TEXT_ONLY = "Sorry, I can only read text messages. Please send your message as words."
PICTURE_ONLY = (
    "Thanks for the picture. Please send it again with a short text saying what the problem "
    "is and where, and I will add it to your report."
)

# GSM 03.38: the basic set, and the extension set whose characters take two septets.
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("^{}\\[~]|€\f")
# Typographic characters that would force the whole message into UCS-2 (70 a segment).
_PLAIN = str.maketrans(
    {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "\u00a0": " "}
)
_KEYWORD = re.compile(r"^[\s\W_]*([A-Za-z]+)[\s\W_]*$")
_MEDIA_URL = re.compile(r"^https://\S+$")  # Twilio's media are https only


# -- encoding and segments ---------------------------------------------------------------
def plain(text: str) -> str:
    return text.translate(_PLAIN)


def is_gsm7(text: str) -> bool:
    return all(char in GSM_BASIC or char in GSM_EXTENSION for char in text)


def segments(text: str) -> int:
    """How many SMS segments a text takes, as a handset and the carrier count them."""
    if not text:
        return 0
    if is_gsm7(text):
        sizes = [2 if char in GSM_EXTENSION else 1 for char in text]
        single, multi = 160, 153
    else:
        sizes = [len(char.encode("utf-16-le")) // 2 for char in text]
        single, multi = 70, 67
    if sum(sizes) <= single:
        return 1
    count, used = 1, 0
    for size in sizes:  # a character (escape pair, surrogate pair) never straddles segments
        if used + size > multi:
            count, used = count + 1, 0
        used += size
    return count


def fit(text: str, max_segments: int = MAX_SEGMENTS) -> tuple[str, str]:
    """The part that fits ``max_segments`` (ending with the MORE hint if cut) and the rest."""
    text = text.strip()
    if segments(text) <= max_segments:
        return text, ""
    # Never between a label and its link ("More: https://..."): the two stay in one part.
    breaks = [
        m.start() for m in re.finditer(r"\s", text) if text[m.start() - 1 : m.start()] != ":"
    ] or [len(text)]

    def fits(cut: int) -> bool:
        return segments(f"{text[:cut].rstrip()}\n{MORE_HINT}") <= max_segments

    low, high, best = 0, len(breaks) - 1, 0
    while low <= high:  # a shorter prefix never needs more segments
        middle = (low + high) // 2
        if fits(breaks[middle]):
            best, low = breaks[middle], middle + 1
        else:
            high = middle - 1
    if best == 0:  # one unbroken word longer than the budget: cut inside it
        best = next(c for c in range(len(text), 0, -1) if fits(c))
    return f"{text[:best].rstrip()}\n{MORE_HINT}", text[best:].strip()


def render(reply: Reply) -> str:
    """A reply as one SMS text: messages, source links and numbered choices."""
    blocks, number = [], 0
    for message in reply.messages:
        lines = [message.text.strip()]
        if message.source and message.source.url.lower().startswith(("https://", "http://")):
            lines.append(f"More: {message.source.url}")
        numbers = []
        for choice in message.choices:
            number += 1
            numbers.append(str(number))
            lines.append(f"{number}. {choice.title}")
        if numbers:
            listed = " or ".join([", ".join(numbers[:-1]), numbers[-1]] if numbers[1:] else numbers)
            lines.append(f"Reply {listed}.")
        blocks.append("\n".join(line for line in lines if line))
    return plain("\n\n".join(block for block in blocks if block))


def keyword(body: str) -> str | None:
    match = _KEYWORD.match(body)
    return match.group(1).upper() if match else None


# -- the webhook -------------------------------------------------------------------------
class TwilioSms(BaseModel):
    """The form fields of Twilio's incoming-message webhook that we use."""

    MessageSid: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9]+$")
    AccountSid: str = Field(min_length=2, max_length=64)
    From: str = Field(min_length=3, max_length=32)
    To: str = Field(default="", max_length=32)
    Body: str = Field(default="", max_length=1600)
    NumMedia: int = Field(default=0, ge=0, le=10)
    MediaUrl0: str = Field(default="", max_length=1000)  # an MMS's first picture


def signed_url(request: Request, settings: Settings) -> str:
    """The URL Twilio signed: our public address when we sit behind a proxy."""
    if not settings.public_url:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{settings.public_url.rstrip('/')}{request.url.path}{query}"


async def verified_form(request: Request) -> dict[str, str]:
    """The webhook's form fields, once the signature proves they come from Twilio."""
    settings: Settings = request.app.state.settings
    auth_token = secret_text(settings.twilio_auth_token)
    if auth_token is None:
        raise HTTPException(404, "SMS is not configured on this server")
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        raise HTTPException(403, "missing X-Twilio-Signature")
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    if any(not isinstance(value, str) for _, value in form.multi_items()):
        raise HTTPException(400, "unexpected file upload")
    validator = RequestValidator(auth_token)
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    if not validator.validate(signed_url(request, settings), form, signature, algorithm):
        raise HTTPException(403, "bad Twilio signature")
    fields = {key: str(value) for key, value in form.items()}
    account = settings.twilio_account_sid
    if account and fields.get("AccountSid") != account:
        raise HTTPException(403, "message for another Twilio account")
    return fields


def twiml(text: str | None) -> str:
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)


@router.post("/webhooks/twilio/sms", include_in_schema=False)
async def inbound_sms(request: Request) -> Response:
    fields = await verified_form(request)
    runtime = get_runtime(request)
    try:
        sms = TwilioSms.model_validate(fields)
    except ValidationError as exc:
        raise HTTPException(400, f"not a Twilio message: {exc.errors()[0]['msg']}") from exc
    limiter: RateLimiter = request.app.state.rate_limiter
    body = await run_in_threadpool(answer, runtime, limiter, sms)
    return Response(body, media_type="application/xml")


@router.post("/webhooks/twilio/sms/status", include_in_schema=False)
async def sms_status(request: Request) -> Response:
    """Twilio's status callback for a notice we sent: record delivered or failed."""
    fields = await verified_form(request)
    runtime = get_runtime(request)
    await run_in_threadpool(record_status, runtime, fields)
    return Response(status_code=204)


def record_status(runtime: Runtime, fields: dict[str, str]) -> None:
    status = fields.get("MessageStatus") or fields.get("SmsStatus") or ""
    sid = fields.get("MessageSid", "")
    mapped = {"delivered": "delivered", "undelivered": "failed", "failed": "failed"}.get(status)
    if not sid or mapped is None:
        return
    with runtime.db.transaction() as session:
        notice = session.scalar(select(Notice).where(Notice.provider_id == sid[:120]))
        if notice is None:
            return
        notice.status = mapped
        if mapped == "failed":
            notice.error = f"Twilio: {status} (error code {fields.get('ErrorCode') or 'none'})"


# -- one message in, the TwiML out ---------------------------------------------------------
def answer(runtime: Runtime, limiter: RateLimiter, sms: TwilioSms) -> str:
    """What to answer a message; the same TwiML again for a MessageSid already answered."""
    receipt = (CHANNEL, runtime.hasher(f"{CHANNEL}:{sms.From}"), sms.MessageSid)
    with runtime.db.sessions() as session:
        seen = session.get(ChannelReceipt, receipt)
        if seen is not None:
            return seen.response or twiml(None)
    prove(runtime.db, CHANNEL, runtime.hasher(sms.From))  # the number texted us
    response = twiml(_respond(runtime, limiter, sms))
    try:
        with runtime.db.transaction() as session:
            session.add(
                ChannelReceipt(
                    channel=CHANNEL,
                    sender_key=receipt[1],
                    message_id=sms.MessageSid,
                    response=response,
                )
            )
    except IntegrityError:  # the same message, answered meanwhile by another worker
        with runtime.db.sessions() as session:
            seen = session.get(ChannelReceipt, receipt)
            return (seen.response if seen else None) or response
    return response


def is_opted_out(session: Session, runtime: Runtime, channel: str, address: str) -> bool:
    return session.get(OptOut, (channel, runtime.hasher(address))) is not None


def _respond(runtime: Runtime, limiter: RateLimiter, sms: TwilioSms) -> str | None:
    word = keyword(sms.Body)
    address_key = runtime.hasher(sms.From)
    sender_key = runtime.hasher(f"{CHANNEL}:{sms.From}")
    with runtime.db.transaction() as session:
        opted_out = session.get(OptOut, (CHANNEL, address_key)) is not None
        if word in OPT_OUT:
            _clear_pending(session, sender_key)
            if opted_out:
                return None
            session.add(OptOut(channel=CHANNEL, address_key=address_key, keyword=word))
            return STOPPED_CANCEL if word == "CANCEL" else STOPPED
        if word in OPT_IN or (word == "YES" and opted_out):
            session.execute(
                delete(OptOut).where(OptOut.channel == CHANNEL, OptOut.address_key == address_key)
            )
            return STARTED
        if opted_out:
            return None
        if word in HELP:
            return HELP_TEXT
    decision = limiter.hit(CHANNEL, sms.From)
    if not decision.allowed:
        return SLOW_DOWN if decision.tell else None
    if word == MORE and (more := _next_part(runtime, sender_key)):
        return more
    if not sms.Body.strip():
        return PICTURE_ONLY if sms.NumMedia else TEXT_ONLY
    media = sms.MediaUrl0 if sms.NumMedia and _MEDIA_URL.match(sms.MediaUrl0) else ""
    reply = runtime.assistant.handle(
        InboundMessage(
            channel=CHANNEL,
            sender=sms.From,
            text=sms.Body,
            message_id=sms.MessageSid,
            # The picture goes with the resident's next report (staff see its link).
            metadata={"attachments": {"media_url": media}} if media else {},
        )
    )
    if not reply.messages:
        return None
    head, rest = fit(render(reply))
    with runtime.db.transaction() as session:
        _store_pending(session, sender_key, rest)
    return head


def _clear_pending(session: Session, sender_key: str) -> None:
    session.execute(
        delete(ChannelSession).where(
            ChannelSession.channel == CHANNEL, ChannelSession.sender_key == sender_key
        )
    )


def _store_pending(session: Session, sender_key: str, rest: str) -> None:
    state = session.get(ChannelSession, (CHANNEL, sender_key), with_for_update=True)
    if state is None:
        if not rest:
            return
        state = ChannelSession(channel=CHANNEL, sender_key=sender_key)
        session.add(state)
    state.pending = [rest] if rest else []
    state.updated_at = datetime.now(UTC)


def _next_part(runtime: Runtime, sender_key: str) -> str | None:
    with runtime.db.transaction() as session:
        state = session.get(ChannelSession, (CHANNEL, sender_key), with_for_update=True)
        if state is None or not state.pending:
            return None
        head, rest = fit(state.pending[0])
        state.pending = [rest] if rest else []
        state.updated_at = datetime.now(UTC)
        return head
