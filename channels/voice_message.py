"""A voice message for staff when no one can take the call: Twilio <Record>, the inbox.

Without a transfer number, or out of office hours, "operator" does not end in "call
again later": the caller hears one prompt, a tone, and leaves a message (``<Record>``, in
both voice modes; a stream hands over to it when it closes). Twilio posts the recording
to ``POST /webhooks/twilio/voice/recorded`` (signed like every Twilio webhook), and the
message goes to the staff handoff inbox at once, as a transcript line of the caller's
conversation: how long it is, where its audio is, and the number to call back. Its words
follow when the audio can be fetched (Twilio may need a few seconds to store it) and our
recogniser has heard it. A retried post leaves one message.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from twilio.twiml.voice_response import VoiceResponse

from bot.runtime import Runtime
from bot.settings import Settings, secret_text
from bot.staff import handoffs
from bot.storage.channel_state import ChannelReceipt
from bot.storage.models import Conversation, Handoff, Turn
from channels.deps import get_runtime
from channels.sms import verified_form
from channels.voice_line import CHANNEL, caller_id, line_for
from voice.asr import transcribe
from voice.audio import read_wav
from voice.call import MESSAGE_TAKEN

log = logging.getLogger(__name__)

RECORDED_PATH = "/webhooks/twilio/voice/recorded"
MESSAGE_SECONDS = 120  # the longest message; the caller ends one sooner with #
FETCH_TRIES = 5
FETCH_PAUSE = 2.0  # seconds between tries while Twilio stores the recording
CHUNK_SECONDS = 25  # Whisper hears at most 30 s at once
OUTCOME = "voice_message"
_RECORDING_URL = re.compile(
    r"^https://api\.twilio\.com/2010-04-01/Accounts/(?P<account>AC\w+)/Recordings/RE\w+$"
)

router = APIRouter(tags=["voice"])


def record_twiml(response: VoiceResponse, base: str) -> None:
    """A tone, then up to two minutes of message, ended by # or by hanging up."""
    response.record(
        action=f"{base}{RECORDED_PATH}",
        method="POST",
        max_length=MESSAGE_SECONDS,
        finish_on_key="#",
        play_beep=True,
        timeout=10,
        trim="trim-silence",
    )


class TwilioRecording(BaseModel):
    """What Twilio posts to a <Record> action."""

    CallSid: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9]+$")
    AccountSid: str = Field(min_length=2, max_length=64)
    From: str = Field(default="", max_length=64)
    RecordingSid: str = Field(min_length=2, max_length=64, pattern=r"^RE[A-Za-z0-9]+$")
    RecordingUrl: str = Field(max_length=300)
    RecordingDuration: int = Field(default=0, ge=0, le=MESSAGE_SECONDS * 10)


@router.post(RECORDED_PATH, include_in_schema=False)
async def recorded(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if secret_text(settings.twilio_auth_token) is None:
        raise HTTPException(404, "the phone line is not configured on this server")
    try:
        message = TwilioRecording.model_validate(await verified_form(request))
    except ValidationError as exc:
        raise HTTPException(400, f"not a Twilio recording: {exc.errors()[0]['msg']}") from exc
    found = _RECORDING_URL.match(message.RecordingUrl)
    if found is None or found["account"] != message.AccountSid:
        raise HTTPException(400, "not a recording of this Twilio account")
    runtime = get_runtime(request)
    turn_id = await run_in_threadpool(leave_message, runtime, message)
    if turn_id is not None:
        jobs: set[asyncio.Task[None]] = request.app.state.__dict__.setdefault("voice_jobs", set())
        job = asyncio.create_task(asyncio.to_thread(add_transcript, request.app, turn_id, message))
        jobs.add(job)
        job.add_done_callback(jobs.discard)
    response = VoiceResponse()
    response.say(MESSAGE_TAKEN, language="en-US")
    response.hangup()
    return Response(str(response), media_type="application/xml")


def message_line(seconds: int, url: str, callback: str | None, words: str | None = None) -> str:
    """The inbox's line for a message: its length, the number to call back, its audio."""
    back = f"call back on {callback}" if callback else "number withheld"
    heard = f' "{words}"' if words else ""
    return f"Voice message ({seconds} s, {back}):{heard} audio {url}"


def leave_message(runtime: Runtime, message: TwilioRecording) -> int | None:
    """The message as a transcript line with an open handoff; None if already left."""
    caller = caller_id(message.From, message.CallSid)
    callback = None if caller.startswith("call:") else caller
    sender_key = runtime.hasher(f"{CHANNEL}:{caller}")
    with runtime.db.transaction() as session:
        receipt = (CHANNEL, sender_key, f"recording:{message.RecordingSid}")
        if session.get(ChannelReceipt, receipt) is not None:
            return None
        session.add(ChannelReceipt(channel=CHANNEL, sender_key=sender_key, message_id=receipt[2]))
        conversation = session.scalar(
            select(Conversation).where(
                Conversation.channel == CHANNEL, Conversation.sender_key == sender_key
            )
        )
        if conversation is None:
            conversation = Conversation(channel=CHANNEL, sender_key=sender_key, state={}, prefs={})
            session.add(conversation)
            session.flush()
        conversation.status = "handoff"
        handoff = handoffs.open_handoff(session, conversation.id)
        if handoff is None:
            handoff = Handoff(conversation_id=conversation.id, reason="left a voice message")
            session.add(handoff)
        handoff.reply_address = handoff.reply_address or callback
        note = "voice message; " + (f"call back on {callback}" if callback else "number withheld")
        if note not in handoff.reason:
            handoff.reason = f"{handoff.reason}; {note}"[:200]
        turn = Turn(
            conversation_id=conversation.id,
            direction="in",
            text=message_line(message.RecordingDuration, message.RecordingUrl, callback),
            outcome=OUTCOME,
        )
        session.add(turn)
        session.flush()
        return turn.id


def fetch_recording(app: Any, url: str) -> bytes | None:
    """The recording as WAV, with our account's credentials; None if Twilio never has it."""
    settings: Settings = app.state.settings
    auth = (settings.twilio_account_sid or "", secret_text(settings.twilio_auth_token) or "")
    client: httpx.Client = getattr(app.state, "voice_http", None) or httpx.Client(timeout=10)
    for attempt in range(FETCH_TRIES):
        try:
            response = client.get(f"{url}.wav", auth=auth)
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code == 200:
            return response.content
        if attempt + 1 < FETCH_TRIES:
            time.sleep(FETCH_PAUSE)
    return None


def add_transcript(app: Any, turn_id: int, message: TwilioRecording) -> None:
    """What the caller said in the message, added to its inbox line."""
    try:
        audio = fetch_recording(app, message.RecordingUrl)
        if audio is None:
            log.warning("voice message %s could not be fetched", message.RecordingSid)
            return
        pcm16, rate = read_wav(audio)
        recognizer = line_for(app).recognizer
        step = CHUNK_SECONDS * rate * 2
        parts = [
            transcribe(recognizer, pcm16[i : i + step], rate).text
            for i in range(0, len(pcm16), step)
        ]
        words = " ".join(" ".join(parts).split())
    except Exception:
        log.exception("voice message %s could not be transcribed", message.RecordingSid)
        return
    runtime: Runtime = app.state.runtime
    caller = caller_id(message.From, message.CallSid)
    callback = None if caller.startswith("call:") else caller
    with runtime.db.transaction() as session:
        turn = session.get(Turn, turn_id)
        if turn is not None:
            turn.text = message_line(
                message.RecordingDuration, message.RecordingUrl, callback, words or "(no words)"
            )
