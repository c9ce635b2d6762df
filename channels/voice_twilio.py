"""The phone line on Twilio Voice: <Gather> webhooks answered with TwiML, or Media Streams.

In the order a call goes:

1. ``POST /webhooks/twilio/voice``: Twilio's incoming-call webhook, signed like SMS (the
   SMS channel's ``verified_form``: twilio's ``RequestValidator``); 404 when Twilio is not
   configured. The answer is TwiML built with twilio's ``VoiceResponse``. With
   ``HOTLINE_VOICE_MODE=gather`` (the default): our greeting, synthesized by us and
   ``<Play>``ed from ``/voice/audio/...``, inside ``<Gather input="speech dtmf">`` (Twilio
   recognises, with the turn's words as hints). With ``stream``: ``<Connect><Stream>`` to
   our WebSocket, the caller and a keyed token passed as ``<Parameter>``s.
2. ``POST /webhooks/twilio/voice/gather?step=N``: the <Gather> action with ``SpeechResult``
   or ``Digits`` (nothing at all: the caller was silent). The call's state lives in
   ``channel_sessions`` between requests; a retried request gets the same TwiML again
   (``channel_receipts``), and the assistant's own turn ids make it file nothing twice.
3. ``GET /voice/audio/{key}.wav?sig=...``: a prompt from the synthesizer's disk cache, as
   8 kHz WAV. ``sig`` is a keyed hash of the key: only URLs we handed out are served.
4. ``WS /webhooks/twilio/media``: Media Streams. In: ``connected``, ``start`` (checked:
   mu-law 8 kHz mono, our account, our token), ``media`` (base64 mu-law, 20 ms),
   ``dtmf``, ``mark``, ``stop``. Out: ``media`` (our speech, mu-law, 20 ms frames),
   ``mark`` after each reply, ``clear`` on barge-in. The call itself is
   ``channels/voice_stream.py``.
5. ``POST /webhooks/twilio/voice/stream-end``: ``<Connect>``'s action once our stream
   closes: ``<Dial>`` the operator after a handoff, ``<Record>`` a voice message when no
   one can take the call (channels/voice_message.py), else ``<Hangup>``.
6. ``POST /webhooks/twilio/voice/status``: the call status callback (configured on the
   number): how each call ended (``call_outcomes``: status and duration, no number).

"operator" transfers to ``HOTLINE_VOICE_OPERATOR_NUMBER`` when set and staff are in (office
hours); otherwise the assistant's handoff is recorded for staff and the caller leaves a
voice message for the handoff inbox.
A caller in danger (triage, bot/triage.py) hears the emergency number first and is put
through to ``HOTLINE_VOICE_EMERGENCY_NUMBER`` (else the operator number) when one is set;
without either the call goes on after the number, and staff see the flagged conversation.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request, Response, WebSocket
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from starlette.websockets import WebSocketState
from twilio.twiml.voice_response import Connect, Gather, VoiceResponse

from bot.runtime import Runtime
from bot.settings import Settings, secret_text
from bot.storage.channel_state import CallOutcome, ChannelReceipt, ChannelSession, prove
from channels.deps import get_runtime
from channels.rate_limit import RateLimiter
from channels.sms import verified_form
from channels.tasks import cancel
from channels.voice_line import (
    CHANNEL,
    VoiceLine,
    caller_id,
    check_settings,
    emergency_transfer,
    line_for,
    warm_up,
)
from channels.voice_message import record_twiml
from channels.voice_stream import StreamCall
from voice.audio import PHONE_RATE, frames, mulaw_to_pcm16, read_wav, resample, wav_bytes
from voice.call import CallTurn
from voice.endpoint import EndpointConfig

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Refuse to start on bad speech settings; warm the line up once the runtime is ready."""
    settings: Settings = app.state.settings
    phone = settings.twilio_auth_token is not None
    app.state.voice_recognizer = await asyncio.to_thread(check_settings, settings, phone=phone)
    task = asyncio.create_task(_warm_up(app)) if _wants_speech(settings) else None
    try:
        yield
    finally:
        await cancel(task)


router = APIRouter(tags=["voice"], lifespan=lifespan)

CALL_STATE = "voice_call"  # channel_sessions rows of calls in progress
STATE_TTL = timedelta(days=1)
GATHER_TIMEOUT = 6  # seconds of silence before <Gather> reports no input
LANGUAGE = "en-US"
AUDIO_PATH = "/voice/audio"
MAX_STREAM_MESSAGE = 64_000  # a 20 ms media message is ~300 bytes; Twilio sends no more
MAX_MEDIA_BYTES = 8_000  # one second of mu-law in a single message is already odd
TOO_MANY_CALLS = (
    "We are receiving too many calls from this number. Please try again in a few minutes. Goodbye."
)


def _wants_speech(settings: Settings) -> bool:
    """Phone calls or Telegram voice notes need the recogniser; nothing else does."""
    return settings.twilio_auth_token is not None or settings.telegram_bot_token is not None


async def _warm_up(app: FastAPI) -> None:
    """Build the domain model and the recogniser before the first call needs them."""
    while app.state.runtime is None:
        await asyncio.sleep(0.5)
    try:
        await asyncio.to_thread(warm_up, app)
    except Exception:
        log.exception("the voice line could not be prepared; calls will retry")


# -- what Twilio posts -------------------------------------------------------------------------
class TwilioCall(BaseModel):
    """The fields of Twilio's voice webhooks that we use."""

    CallSid: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9]+$")
    AccountSid: str = Field(min_length=2, max_length=64)
    From: str = Field(default="", max_length=64)
    To: str = Field(default="", max_length=64)
    CallStatus: str = Field(default="", max_length=32)


class TwilioGather(TwilioCall):
    """What <Gather> heard: Twilio's transcript, or the keys pressed, or neither."""

    SpeechResult: str = Field(default="", max_length=4000)
    Confidence: float | None = None
    Digits: str = Field(default="", max_length=32, pattern=r"^[0-9*#]*$")


async def _call_form(request: Request, model: type[TwilioCall]) -> Any:
    settings: Settings = request.app.state.settings
    if secret_text(settings.twilio_auth_token) is None:
        raise HTTPException(404, "the phone line is not configured on this server")
    fields = await verified_form(request)
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise HTTPException(400, f"not a Twilio call: {exc.errors()[0]['msg']}") from exc


def _base_url(request: Request, settings: Settings) -> str:
    return (settings.public_url or str(request.base_url)).rstrip("/")


def _xml(response: VoiceResponse | str) -> Response:
    return Response(str(response), media_type="application/xml")


# -- 1. the incoming call ------------------------------------------------------------------
@router.post("/webhooks/twilio/voice", include_in_schema=False)
async def incoming_call(request: Request) -> Response:
    call: TwilioCall = await _call_form(request, TwilioCall)
    runtime = get_runtime(request)
    settings: Settings = request.app.state.settings
    limiter: RateLimiter = request.app.state.rate_limiter
    caller = caller_id(call.From, call.CallSid)
    if caller.startswith("+"):  # the number called us (Twilio signed it): SMS notices may go to it
        await run_in_threadpool(prove, runtime.db, CHANNEL, runtime.hasher(caller))
    if not limiter.hit(CHANNEL, caller).allowed:
        response = VoiceResponse()
        response.say(TOO_MANY_CALLS, language=LANGUAGE)
        response.hangup()
        return _xml(response)
    base = _base_url(request, settings)
    if settings.voice_mode == "stream":
        return _xml(stream_twiml(runtime, call, caller, base))
    body = await run_in_threadpool(_gather_step, request.app, runtime, call, 0, base)
    return _xml(body)


def stream_token(runtime: Runtime, call_sid: str, caller: str) -> str:
    """Proves a media stream was started by our TwiML for this call and caller."""
    return runtime.hasher(f"voice-stream:{call_sid}:{caller}")


def stream_twiml(runtime: Runtime, call: TwilioCall, caller: str, base: str) -> VoiceResponse:
    socket_base = re.sub(r"^http", "ws", base)
    response = VoiceResponse()
    connect = Connect(action=f"{base}/webhooks/twilio/voice/stream-end", method="POST")
    stream = connect.stream(url=f"{socket_base}/webhooks/twilio/media")
    stream.parameter(name="caller", value=caller)
    stream.parameter(name="token", value=stream_token(runtime, call.CallSid, caller))
    response.append(connect)
    return response


# -- 2. the <Gather> action ------------------------------------------------------------------
@router.post("/webhooks/twilio/voice/gather", include_in_schema=False)
async def gathered(request: Request, step: Annotated[int, Query(ge=1, le=100_000)]) -> Response:
    call: TwilioGather = await _call_form(request, TwilioGather)
    runtime = get_runtime(request)
    base = _base_url(request, request.app.state.settings)
    body = await run_in_threadpool(_gather_step, request.app, runtime, call, step, base)
    return _xml(body)


def _call_key(runtime: Runtime, call_sid: str) -> str:
    return runtime.hasher(f"call:{call_sid}")


def _gather_step(app: Any, runtime: Runtime, call: TwilioCall, step: int, base: str) -> str:
    """One step of a <Gather> call: the TwiML for it, the same again if it was answered."""
    receipt = f"{call.CallSid}:{step}"
    key = _call_key(runtime, call.CallSid)
    caller = caller_id(call.From, call.CallSid)
    caller_key = runtime.hasher(f"{CHANNEL}:{caller}")
    with runtime.db.sessions() as session:
        seen = session.get(ChannelReceipt, (CHANNEL, caller_key, receipt))
        if seen is not None and seen.response:
            return seen.response
        row = session.get(ChannelSession, (CALL_STATE, key))
        stored = row.pending[0] if row is not None and row.pending else None
    line = line_for(app)
    if step == 0 or stored is None:
        if step == 0:
            _forget_old_calls(runtime)
        session = line.session(caller, call.CallSid)
        turn = session.start()
    else:
        if stored.get("step") != step:
            raise HTTPException(409, f"step {step} is not the call's next step")
        session = line.session(caller, call.CallSid, stored["call"])
        assert isinstance(call, TwilioGather)
        if call.Digits:
            turn = session.press(call.Digits)
        elif call.SpeechResult.strip():
            turn = session.hear(call.SpeechResult)
        else:
            turn = session.silence()
    body = str(gather_twiml(line, runtime, turn, step + 1, base))
    finished = turn.hangup or turn.handoff
    try:
        with runtime.db.transaction() as db:
            db.add(
                ChannelReceipt(
                    channel=CHANNEL, sender_key=caller_key, message_id=receipt, response=body
                )
            )
            row = db.get(ChannelSession, (CALL_STATE, key))
            if finished:
                if row is not None:
                    db.delete(row)
            else:
                if row is None:
                    row = ChannelSession(channel=CALL_STATE, sender_key=key)
                    db.add(row)
                row.pending = [{"step": step + 1, "call": session.dump()}]
                row.updated_at = datetime.now(UTC)
    except IntegrityError:  # the same step, answered meanwhile by another worker
        with runtime.db.sessions() as db:
            seen = db.get(ChannelReceipt, (CHANNEL, caller_key, receipt))
            return (seen.response if seen else None) or body
    return body


def _forget_old_calls(runtime: Runtime) -> None:
    """Calls whose caller hung up mid-way leave state behind; it is no use after a day."""
    with runtime.db.transaction() as session:
        session.execute(
            delete(ChannelSession).where(
                ChannelSession.channel == CALL_STATE,
                ChannelSession.updated_at < datetime.now(UTC) - STATE_TTL,
            )
        )


def gather_twiml(
    line: VoiceLine, runtime: Runtime, turn: CallTurn, next_step: int, base: str
) -> VoiceResponse:
    """A turn as TwiML: the prompt inside a <Gather>, or before a <Dial> or <Hangup>."""
    response = VoiceResponse()
    url = prompt_url(line, runtime, turn, base)
    if turn.record:  # no one to put the caller through to: a message for staff
        _prompt(response, turn, url)
        record_twiml(response, base)
        return response
    if turn.hangup or turn.handoff:
        _prompt(response, turn, url)
        operator = line.settings.voice_operator_number
        if turn.emergency:
            operator = emergency_transfer(line.settings)
        if turn.handoff and not turn.hangup and operator:
            response.dial(operator)
        else:
            response.hangup()
        return response
    keys = turn.listen.keys
    gather = Gather(
        input="speech dtmf",
        action=f"{base}/webhooks/twilio/voice/gather?step={next_step}",
        method="POST",
        timeout=GATHER_TIMEOUT,
        speech_timeout="auto",
        action_on_empty_result=True,
        language=LANGUAGE,
        hints=", ".join(h for h in turn.listen.hints if "," not in h)[:2000] or None,
        finish_on_key="#",
        num_digits=1 if 0 < keys <= 9 else None,
    )
    _prompt(gather, turn, url)
    response.append(gather)
    return response


def _prompt(target: VoiceResponse | Gather, turn: CallTurn, url: str | None) -> None:
    if url:
        target.play(url)
    else:  # our synthesizer failed: Twilio's voice is better than silence
        target.say(turn.speech, language=LANGUAGE)


def prompt_url(line: VoiceLine, runtime: Runtime, turn: CallTurn, base: str) -> str | None:
    """Synthesize the turn's speech (cached) and the signed URL Twilio fetches it from."""
    try:
        line.synthesizer.synthesize(turn.speech, turn.rate)
    except Exception:
        log.exception("synthesis failed; falling back to <Say>")
        return None
    path = line.synthesizer.cache_path(turn.speech, turn.rate)
    if path is None:
        return None
    return f"{base}{AUDIO_PATH}/{path.stem}.wav?sig={audio_signature(runtime, path.stem)}"


def audio_signature(runtime: Runtime, key: str) -> str:
    return runtime.hasher(f"voice-audio:{key}")[:32]


# -- 3. our prompts --------------------------------------------------------------------------
@router.get(AUDIO_PATH + "/{key}.wav", include_in_schema=False)
async def prompt_audio(request: Request, key: str, sig: str = "") -> Response:
    runtime = get_runtime(request)
    if not re.fullmatch(r"[0-9a-f]{64}", key) or not hmac.compare_digest(
        sig.encode(), audio_signature(runtime, key).encode()
    ):
        raise HTTPException(404, "no such prompt")
    line = await asyncio.to_thread(line_for, request.app)
    cache = line.synthesizer.cache_dir
    path = cache / f"{key}.wav" if cache is not None else None
    if path is None or not path.is_file():
        raise HTTPException(404, "no such prompt")
    body = await asyncio.to_thread(_phone_wav, path)
    return Response(
        body, media_type="audio/wav", headers={"Cache-Control": "private, max-age=3600"}
    )


def _phone_wav(path: Path) -> bytes:
    pcm16, rate = read_wav(path)
    return wav_bytes(resample(pcm16, rate, PHONE_RATE), PHONE_RATE)


# -- 4. Media Streams --------------------------------------------------------------------------
class MediaFormat(BaseModel):
    encoding: Literal["audio/x-mulaw"]
    sampleRate: Literal[8000]
    channels: Literal[1]


class StartInfo(BaseModel):
    streamSid: str = Field(min_length=2, max_length=64)
    accountSid: str = Field(min_length=2, max_length=64)
    callSid: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9]+$")
    tracks: list[str] = Field(default_factory=lambda: ["inbound"])
    customParameters: dict[str, str] = Field(default_factory=dict)
    mediaFormat: MediaFormat


class Connected(BaseModel):
    event: Literal["connected"]
    protocol: str = "Call"
    version: str = ""


class Start(BaseModel):
    event: Literal["start"]
    sequenceNumber: str = ""
    start: StartInfo
    streamSid: str = ""


class MediaChunk(BaseModel):
    track: str = "inbound"
    chunk: str = ""
    timestamp: str = ""
    payload: str = Field(max_length=MAX_STREAM_MESSAGE)


class Media(BaseModel):
    event: Literal["media"]
    sequenceNumber: str = ""
    media: MediaChunk
    streamSid: str = ""


class MarkName(BaseModel):
    name: str = Field(max_length=200)


class Mark(BaseModel):
    event: Literal["mark"]
    sequenceNumber: str = ""
    streamSid: str = ""
    mark: MarkName


class DtmfDigit(BaseModel):
    track: str = "inbound_track"
    digit: str = Field(pattern=r"^[0-9*#]$")


class Dtmf(BaseModel):
    event: Literal["dtmf"]
    sequenceNumber: str = ""
    streamSid: str = ""
    dtmf: DtmfDigit


class Stop(BaseModel):
    event: Literal["stop"]
    sequenceNumber: str = ""
    streamSid: str = ""


StreamEvent = Annotated[
    Connected | Start | Media | Mark | Dtmf | Stop, Field(discriminator="event")
]
STREAM_EVENTS = TypeAdapter(StreamEvent)
KNOWN_EVENTS = frozenset(["connected", "start", "media", "mark", "dtmf", "stop"])


class OutPayload(BaseModel):
    payload: str


class OutMedia(BaseModel):
    event: Literal["media"] = "media"
    streamSid: str
    media: OutPayload


class OutMark(BaseModel):
    event: Literal["mark"] = "mark"
    streamSid: str
    mark: MarkName


class OutClear(BaseModel):
    event: Literal["clear"] = "clear"
    streamSid: str


class StreamRefused(Exception):
    """The stream breaks the protocol or is not ours: close it with this code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def parse_stream_message(raw: str) -> Connected | Start | Media | Mark | Dtmf | Stop | None:
    """A Twilio message, ``None`` for an event we do not know (newer protocol versions)."""
    if len(raw) > MAX_STREAM_MESSAGE:
        raise StreamRefused(1009, "message too large")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise StreamRefused(1007, "not JSON") from exc
    if not isinstance(data, dict):
        raise StreamRefused(1007, "not a JSON object")
    if data.get("event") not in KNOWN_EVENTS:
        return None
    try:
        return STREAM_EVENTS.validate_python(data)
    except ValidationError as exc:
        raise StreamRefused(1007, f"bad {data.get('event')} message") from exc


class TwilioStreamOutput:
    """Our side of the stream: every message is one of the typed models above."""

    def __init__(self, websocket: WebSocket, runtime: Runtime, stream_sid: str, call_sid: str):
        self.websocket = websocket
        self.runtime = runtime
        self.stream_sid = stream_sid
        self.call_sid = call_sid
        self._lock = asyncio.Lock()
        self._clears = 0

    async def _send(self, message: BaseModel) -> None:
        if self.websocket.application_state != WebSocketState.CONNECTED:
            return
        async with self._lock:
            with contextlib.suppress(RuntimeError):  # the caller hung up meanwhile
                await self.websocket.send_text(message.model_dump_json())

    async def audio(self, mulaw: bytes) -> None:
        cleared = self._clears
        for chunk in frames(mulaw, PHONE_RATE, 20, sample_width=1):
            if self._clears != cleared:
                return  # a barge-in cleared the playback: the rest must not follow the clear
            payload = base64.b64encode(chunk).decode()
            await self._send(OutMedia(streamSid=self.stream_sid, media=OutPayload(payload=payload)))

    async def mark(self, name: str) -> None:
        await self._send(OutMark(streamSid=self.stream_sid, mark=MarkName(name=name)))

    async def clear(self) -> None:
        self._clears += 1
        await self._send(OutClear(streamSid=self.stream_sid))

    async def close(self, transfer: bool, emergency: bool = False, record: bool = False) -> None:
        if transfer:
            await asyncio.to_thread(
                _remember_transfer, self.runtime, self.call_sid, emergency, record
            )
        if self.websocket.application_state == WebSocketState.CONNECTED:
            await self.websocket.close()


def _remember_transfer(
    runtime: Runtime, call_sid: str, emergency: bool = False, record: bool = False
) -> None:
    """For the stream-end webhook: this call goes on to the operator (or, for a caller in
    danger, the emergency transfer number; with ``record``, to a voice message)."""
    with runtime.db.transaction() as session:
        key = _call_key(runtime, call_sid)
        row = session.get(ChannelSession, (CALL_STATE, key))
        if row is None:
            row = ChannelSession(channel=CALL_STATE, sender_key=key)
            session.add(row)
        row.pending = [{"transfer": True, "emergency": emergency, "record": record}]
        row.updated_at = datetime.now(UTC)


@router.websocket("/webhooks/twilio/media")
async def media_stream(websocket: WebSocket) -> None:
    """One call's stream. Until ``start`` proves it is ours, a socket gets
    ``voice_stream_start_seconds``; after, any ``voice_stream_idle_seconds`` without a frame
    ends it (Twilio sends media every 20 ms). At most ``voice_max_streams`` are open per
    process; every frame after ``start`` must carry that start's streamSid."""
    app = websocket.app
    settings: Settings = app.state.settings
    if secret_text(settings.twilio_auth_token) is None:
        await websocket.close(code=1008)  # before accepting: the handshake gets a 403
        return
    open_streams: int = getattr(app.state, "open_streams", 0)
    if open_streams >= settings.voice_max_streams:
        log.warning("media stream refused: %d streams already open", open_streams)
        await websocket.close(code=1013)  # before accepting: the handshake gets a 403
        return
    app.state.open_streams = open_streams + 1
    try:
        await websocket.accept()
        await _stream(websocket, settings)
    finally:
        app.state.open_streams -= 1


async def _stream(websocket: WebSocket, settings: Settings) -> None:
    call: StreamCall | None = None
    stream_sid = ""
    loop = asyncio.get_running_loop()
    start_by = loop.time() + settings.voice_stream_start_seconds
    try:
        while True:
            wait = (
                max(0.0, start_by - loop.time())
                if call is None
                else settings.voice_stream_idle_seconds
            )
            try:
                received = await asyncio.wait_for(websocket.receive(), timeout=wait)
            except TimeoutError as exc:
                what = (
                    f"no start within {settings.voice_stream_start_seconds:g} s"
                    if call is None
                    else f"no frame for {wait:g} s"
                )
                raise StreamRefused(1008, what) from exc
            if received["type"] == "websocket.disconnect":
                break
            if received.get("text") is None:
                raise StreamRefused(1003, "Twilio sends text messages only")
            message = parse_stream_message(received["text"])
            if message is None or isinstance(message, Connected):
                continue
            if isinstance(message, Start):
                if call is not None:
                    raise StreamRefused(1008, "a second start")
                if message.streamSid and message.streamSid != message.start.streamSid:
                    raise StreamRefused(1008, "start names two streams")
                call = await _start_call(websocket, message.start)
                stream_sid = message.start.streamSid
                continue
            if call is None:
                if isinstance(message, Stop):
                    break
                raise StreamRefused(1008, f"{message.event} before start")
            if not hmac.compare_digest(message.streamSid.encode(), stream_sid.encode()):
                raise StreamRefused(1008, f"a {message.event} frame for another stream")
            if isinstance(message, Stop):
                break
            await _deliver(call, message)
    except StreamRefused as refused:
        log.warning("media stream refused: %s", refused.reason)
        if websocket.application_state == WebSocketState.CONNECTED:
            await websocket.close(code=refused.code, reason=refused.reason)
    except RuntimeError:  # the socket closed under us (our own close after a goodbye)
        pass
    finally:
        if call is not None:
            await call.end()


async def _start_call(websocket: WebSocket, start: StartInfo) -> StreamCall:
    app = websocket.app
    settings: Settings = app.state.settings
    if settings.twilio_account_sid and start.accountSid != settings.twilio_account_sid:
        raise StreamRefused(1008, "a stream for another Twilio account")
    runtime: Runtime | None = app.state.runtime
    if runtime is None:
        raise StreamRefused(1013, "starting up, try again shortly")
    caller = start.customParameters.get("caller", "")
    token = start.customParameters.get("token", "")
    expected = stream_token(runtime, start.callSid, caller)
    if not caller or not hmac.compare_digest(token.encode(), expected.encode()):
        raise StreamRefused(1008, "not a stream our TwiML started")
    line = await asyncio.to_thread(line_for, app)
    session = line.session(caller, start.callSid)
    output = TwilioStreamOutput(websocket, runtime, start.streamSid, start.callSid)
    endpoint = EndpointConfig(
        end_ms=settings.voice_end_silence_ms, no_input_ms=settings.voice_no_input_ms
    )
    call = StreamCall(line, session, output, endpoint)
    await call.begin()
    return call


async def _deliver(call: StreamCall, message: Media | Mark | Dtmf) -> None:
    if isinstance(message, Mark):
        await call.played(message.mark.name)
    elif isinstance(message, Dtmf):
        await call.key(message.dtmf.digit)
    elif message.media.track in ("inbound", "inbound_track"):
        try:
            mulaw = base64.b64decode(message.media.payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise StreamRefused(1007, "media payload is not base64") from exc
        if len(mulaw) > MAX_MEDIA_BYTES:
            raise StreamRefused(1009, "media payload too large")
        frame_ms = call.endpointer.config.frame_ms
        for frame in frames(mulaw_to_pcm16(mulaw), PHONE_RATE, frame_ms):
            await call.frame(frame)


# -- 5. after the stream -------------------------------------------------------------------
@router.post("/webhooks/twilio/voice/stream-end", include_in_schema=False)
async def stream_ended(request: Request) -> Response:
    call: TwilioCall = await _call_form(request, TwilioCall)
    runtime = get_runtime(request)
    settings: Settings = request.app.state.settings
    transfer = await run_in_threadpool(_take_transfer, runtime, call.CallSid)
    number = emergency_transfer(settings) if transfer == "emergency" else None
    number = number or (settings.voice_operator_number if transfer else None)
    response = VoiceResponse()
    if transfer == "record":
        record_twiml(response, _base_url(request, settings))
    elif number:
        response.dial(number)
    else:
        response.hangup()
    return _xml(response)


# -- 6. how the call ended ---------------------------------------------------------------------
CALL_STATUSES = {
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "no-answer",
    "failed",
    "canceled",
}


class TwilioCallStatus(TwilioCall):
    CallDuration: int | None = Field(default=None, ge=0, le=10**7)


@router.post("/webhooks/twilio/voice/status", include_in_schema=False)
async def call_status(request: Request) -> Response:
    """Twilio's call status callback (set it on the number): how and when each call ended."""
    call: TwilioCallStatus = await _call_form(request, TwilioCallStatus)
    if call.CallStatus not in CALL_STATUSES:
        raise HTTPException(400, "not a Twilio call status")
    runtime = get_runtime(request)
    await run_in_threadpool(record_call_status, runtime, call)
    return Response(status_code=204)


def record_call_status(runtime: Runtime, call: TwilioCallStatus) -> None:
    """The latest status of a call; a later callback (or a retried one) updates the row."""
    values = {"status": call.CallStatus, "duration_seconds": call.CallDuration}
    for _ in range(2):  # a concurrent first callback for the same call: update it instead
        try:
            with runtime.db.transaction() as session:
                row = session.get(CallOutcome, call.CallSid, with_for_update=True)
                if row is None:
                    session.add(CallOutcome(call_sid=call.CallSid, **values))
                else:
                    row.status = call.CallStatus
                    row.duration_seconds = call.CallDuration or row.duration_seconds
                    row.updated_at = datetime.now(UTC)
            break
        except IntegrityError:
            continue
    log.info("call ended: status=%s seconds=%s", call.CallStatus, call.CallDuration)


def _take_transfer(runtime: Runtime, call_sid: str) -> str | None:
    """What the stream asked for at its end: "operator", "emergency", "record" or nothing."""
    with runtime.db.transaction() as session:
        row = session.get(ChannelSession, (CALL_STATE, _call_key(runtime, call_sid)))
        if row is None:
            return None
        asked = row.pending[0] if row.pending else {}
        session.delete(row)
        if not asked.get("transfer"):
            return None
        if asked.get("emergency"):
            return "emergency"
        return "record" if asked.get("record") else "operator"
