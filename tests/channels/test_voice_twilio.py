"""The phone line by Twilio <Gather> webhooks: signed forms in, TwiML out, our audio played."""

from __future__ import annotations

import asyncio
import io
import uuid
import wave
from collections.abc import Iterator
from urllib.parse import urlparse
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot import service_requests
from bot.runtime import Runtime
from bot.storage.channel_state import ChannelSession
from bot.storage.models import Notice, ProcessedMessage, ServiceRequest
from channels import outbound, voice_twilio
from channels.voice_line import line_for
from evaluation.qa.provider_fakes import FakeTwilio, twilio_signature
from tests.channels.channel_helpers import TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN, app_for
from tests.channels.voice_helpers import (
    SUNDAY,
    WEDNESDAY_MORNING,
    call_sid,
    caller_number,
    set_clock,
    voice_form,
)
from voice.call import (
    EMERGENCY_TRANSFER,
    GOODBYE_SILENT,
    HANDOFF_TRANSFER,
    LEAVE_MESSAGE,
    NOT_HEARD,
    OFFER_PERSON,
)
from voice.errors import VoiceConfigError

BASE = "http://testserver"
VOICE = "/webhooks/twilio/voice"


def twilio_app(runtime: Runtime, **overrides: object) -> TestClient:
    app = app_for(
        runtime,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
        **overrides,
    )
    return TestClient(app)


@pytest.fixture(scope="module")
def client(runtime: Runtime) -> Iterator[TestClient]:
    with twilio_app(runtime) as client:
        yield client


def post(client: TestClient, path: str, form: dict[str, str], token: str = TWILIO_TOKEN):
    signature = twilio_signature(token, BASE + path, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


class Call:
    """A caller on the line: posts what Twilio posts and follows the TwiML's actions."""

    def __init__(self, client: TestClient, caller: str | None = None) -> None:
        self.client = client
        self.sid = call_sid()
        self.caller = caller or caller_number()
        self.twiml = self._post(VOICE, {})

    def _post(self, path: str, fields: dict[str, str]) -> ElementTree.Element:
        response = post(self.client, path, voice_form(self.sid, self.caller, **fields))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/xml")
        return ElementTree.fromstring(response.text)

    @property
    def gather(self) -> ElementTree.Element:
        gather = self.twiml.find("Gather")
        assert gather is not None, ElementTree.tostring(self.twiml)
        return gather

    def answer(self, speech: str = "", digits: str = "") -> ElementTree.Element:
        action = urlparse(self.gather.attrib["action"])
        fields = {"SpeechResult": speech, "Confidence": "0.9"} if speech else {}
        if digits:
            fields["Digits"] = digits
        self.twiml = self._post(f"{action.path}?{action.query}", fields)
        return self.twiml

    def state(self) -> dict:
        """What the call remembers between requests (to see what it said)."""
        runtime = self.client.app.state.runtime
        key = runtime.hasher(f"call:{self.sid}")
        with runtime.db.sessions() as db:
            row = db.get(ChannelSession, (voice_twilio.CALL_STATE, key))
            return row.pending[0]["call"] if row is not None else {}

    def answer_prompts(self, answers: dict[str, str], turns: int = 6) -> None:
        """Say the answer whose key the current prompt contains, until none matches."""
        for _ in range(turns):
            prompt = self.state()["prompt_text"].lower()
            said = next((a for asked, a in answers.items() if asked in prompt), None)
            if said is None:
                return
            self.answer(said)


def plays(call: Call, text: str) -> bool:
    """Whether the TwiML plays ``text`` (our synthesized audio, by its cache key)."""
    line = line_for(call.client.app)
    rate = max(90, line.settings.tts_rate - 20 * call.state().get("slower", 0))
    key = urlparse(play_url(call.twiml)).path.rsplit("/", 1)[1].removesuffix(".wav")
    return line.synthesizer.cache_path(text, rate).stem == key


def play_url(element: ElementTree.Element) -> str:
    play = element.find(".//Play")
    assert play is not None and play.text, ElementTree.tostring(element)
    return play.text


# -- configuration and signatures ----------------------------------------------------------
def test_the_line_is_refused_when_twilio_is_not_configured(runtime: Runtime) -> None:
    with TestClient(app_for(runtime)) as client:
        form = voice_form(call_sid(), caller_number())
        response = client.post(VOICE, data=form, headers={"X-Twilio-Signature": "x"})
        assert response.status_code == 404
        assert "not configured" in response.json()["detail"]
        assert client.post(f"{VOICE}/gather?step=1", data=form).status_code == 404


@pytest.mark.parametrize("token", ["wrong-token", None])
def test_unsigned_or_badly_signed_calls_are_refused(client: TestClient, token: str | None) -> None:
    form = voice_form(call_sid(), caller_number())
    if token is None:
        response = client.post(VOICE, data=form)
    else:
        response = post(client, VOICE, form, token=token)
    assert response.status_code == 403


def test_a_form_that_is_not_a_call_is_refused(client: TestClient) -> None:
    form = voice_form("not a sid!", caller_number())
    assert post(client, VOICE, form).status_code == 400
    form = voice_form(call_sid(), caller_number(), SpeechResult="x" * 5000)
    assert post(client, f"{VOICE}/gather?step=1", form).status_code == 400
    form = voice_form(call_sid(), caller_number(), Digits="12abc")
    assert post(client, f"{VOICE}/gather?step=1", form).status_code == 400


def test_a_bad_vosk_model_folder_stops_the_app_from_starting(runtime: Runtime, tmp_path) -> None:
    app = app_for(runtime, asr_engine="vosk", vosk_model=tmp_path / "no-model-here")
    expected = pytest.raises(VoiceConfigError, match=r"HOTLINE_VOSK_MODEL: .*no-model-here")
    with expected, TestClient(app):
        pass


# -- the call --------------------------------------------------------------------------------
def test_the_greeting_is_our_audio_inside_a_speech_and_keys_gather(client: TestClient) -> None:
    call = Call(client)
    gather = call.gather
    assert gather.attrib["input"] == "speech dtmf"
    assert gather.attrib["actionOnEmptyResult"] == "true"
    assert gather.attrib["numDigits"] == "1"  # the menu: one key answers
    assert "Report a problem" in gather.attrib["hints"] and "operator" in gather.attrib["hints"]
    url = urlparse(play_url(gather))
    audio = client.get(f"{url.path}?{url.query}")
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(audio.content)) as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (8000, 1)
        assert 3 < wav.getnframes() / 8000 < 7  # the greeting, short; its menu on a repeat
    assert "How can I help? For a person, press 0." in call.state()["last_text"]
    assert "Press 1 for Report a problem" in call.state()["prompt_speech"]


def test_prompt_audio_is_served_only_for_urls_we_handed_out(client: TestClient) -> None:
    url = urlparse(play_url(Call(client).gather))
    key = url.path.rsplit("/", 1)[1].removesuffix(".wav")
    for path in (
        f"{url.path}?sig=0123456789abcdef0123456789abcdef",
        url.path,
        f"/voice/audio/{'0' * 64}.wav?{url.query}",
        f"/voice/audio/../{key}.wav?{url.query}",
        f"/voice/audio/{key.upper()}.wav?{url.query}",
    ):
        assert client.get(path).status_code == 404, path


def test_a_spoken_call_files_a_street_light_report_and_reads_the_reference(
    client: TestClient, runtime: Runtime
) -> None:
    call = Call(client)
    call.answer("there is a broken street light on elm street")
    answers = {
        "is that right": "yes",
        "describe the problem": "it is completely dark at night",
        "how should we tell you": "no updates",
        "shall i send this report": "yes",
    }
    call.answer_prompts(answers)
    assert call.twiml.find("Gather") is not None
    speech = call.state()["last_speech"]
    with runtime.db.sessions() as db:
        request = db.scalar(
            select(ServiceRequest)
            .where(ServiceRequest.description == "it is completely dark at night")
            .order_by(ServiceRequest.id.desc())
        )
    assert request is not None and request.reference
    assert (request.service_code, request.street) == ("streetlight", "Elm Street")
    digits = [c for c in request.reference if c.isdigit()]
    assert f"R E Q, {' '.join(digits[:4])}, " in speech
    assert plays(call, speech)


def test_a_caller_who_wants_updates_here_gets_status_changes_by_sms(runtime: Runtime) -> None:
    """Filed on the phone with "text me at this number": a status change texts the caller."""
    description = f"the light flickers all night {uuid.uuid4().hex[:6]}"
    with (
        FakeTwilio(TWILIO_SID, TWILIO_TOKEN) as twilio,
        twilio_app(runtime, twilio_from_number=TWILIO_FROM, twilio_api_url=twilio.url) as client,
    ):
        call = Call(client)
        call.answer("there is a broken street light on elm street")
        answers = {
            "is that right": "yes",
            "describe the problem": description,
            "how should we tell you": "text me at this number",
            "shall i send this report": "yes",
            "by text message": "no",  # the reference by SMS: not this time
        }
        call.answer_prompts(answers)
        with runtime.db.transaction() as db:
            request = db.scalar(
                select(ServiceRequest).where(ServiceRequest.description == description)
            )
            assert request is not None, call.state()["prompt_text"]
            assert (request.channel, request.contact_preference) == ("voice", "channel")
            assert request.reply_address == call.caller  # kept: the caller wants updates
            notice = service_requests.change_status(db, request, "in_progress", "test", "Crew out")
            assert notice is not None and notice.channel == "voice"
            reference, notice_id = request.reference, notice.id
        app = client.app
        asyncio.run(outbound.deliver_pending(app.state.runtime, outbound.app_senders(app)))
        [sms] = [m for m in twilio.messages if m["To"] == call.caller]
        assert sms["From"] == TWILIO_FROM
        assert reference in sms["Body"] and "Crew out" in sms["Body"]
    with runtime.db.sessions() as db:
        sent = db.get(Notice, notice_id)
        assert sent is not None and sent.status == "sent" and sent.provider_id


def test_a_call_by_keys_only(client: TestClient) -> None:
    call = Call(client)
    call.answer(digits="1")  # report a problem
    assert "what kind of problem" in call.state()["prompt_text"].lower()
    assert call.gather.attrib["numDigits"] == "1"
    choices = call.state()["choices"]
    call.answer(digits="9")  # not a choice: told so, nothing sent on
    prompt = " ".join(f"Press {n} for {title}." for n, title in enumerate(choices, 1))
    assert plays(call, f"Sorry, 9 is not one of the choices. {prompt}")
    call.answer(digits="*")
    call.answer(digits="0")  # no one to put the caller through to: a voice message
    assert call.twiml.find("Record") is not None and call.twiml.find("Gather") is None
    assert plays(call, LEAVE_MESSAGE)


def test_a_caller_told_to_call_again_is_served_on_the_next_call(client: TestClient) -> None:
    """Nobody could take the call: the next call from that number is not hung up on, and
    may leave another message."""
    first = Call(client)
    first.answer("operator")
    assert first.twiml.find("Record") is not None and first.twiml.find("Hangup") is None
    again = Call(client, caller=first.caller)
    again.answer("there is a pothole on Elm Street")
    assert again.twiml.find("Hangup") is None and again.twiml.find("Gather") is not None
    assert "is that right" in again.state()["prompt_text"].lower()
    again.answer("yes")
    assert "describe" in again.state()["prompt_text"].lower()
    again.answer("operator")
    assert again.twiml.find("Record") is not None and again.twiml.find("Hangup") is None


def test_silence_is_prompted_twice_then_a_person_offered_then_goodbye(client: TestClient) -> None:
    call = Call(client)
    greeting = call.state()["prompt_speech"]
    for _ in range(2):
        call.answer()
        assert plays(call, f"{NOT_HEARD} {greeting}")
    call.answer()
    assert plays(call, OFFER_PERSON)
    hangup = call.answer()
    assert hangup.find("Hangup") is not None
    assert plays(call, GOODBYE_SILENT)
    assert call.state() == {}  # the call is over: its state is gone


def test_operator_transfers_the_call_when_a_number_is_configured(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_clock(runtime, monkeypatch, WEDNESDAY_MORNING)  # staff are in
    with twilio_app(runtime, voice_operator_number="+15005550100") as client:
        call = Call(client)
        twiml = call.answer("operator")
        dial = twiml.find("Dial")
        assert dial is not None and dial.text == "+15005550100"
        assert plays(call, HANDOFF_TRANSFER)  # not the chat's "they will reply here"


def test_a_retried_request_gets_the_same_twiml_and_does_nothing_twice(
    client: TestClient, runtime: Runtime
) -> None:
    call = Call(client)
    action = urlparse(call.gather.attrib["action"])
    path = f"{action.path}?{action.query}"
    form = voice_form(call.sid, call.caller, SpeechResult="how do i get a parking permit")
    first = post(client, path, form)
    again = post(client, path, form)
    assert first.status_code == again.status_code == 200
    assert first.text == again.text
    with runtime.db.sessions() as db:
        turns = db.scalar(
            select(func.count()).where(ProcessedMessage.message_id.like(f"{call.sid}:%"))
        )
    assert turns == 1
    assert post(client, f"{VOICE}/gather?step=7", form).status_code == 409
    assert post(client, f"{VOICE}/gather?step=0", form).status_code == 422


def test_too_many_calls_from_one_number_are_turned_away(runtime: Runtime) -> None:
    with twilio_app(runtime, rate_limit_sender="2/minute") as client:
        caller = caller_number()
        for _ in range(2):
            assert Call(client, caller).twiml.find("Gather") is not None
        refused = Call(client, caller).twiml
        assert refused.find("Hangup") is not None
        assert "too many calls" in (refused.findtext("Say") or "")


# -- stream mode -------------------------------------------------------------------------------
def test_stream_mode_connects_the_call_to_our_websocket(runtime: Runtime) -> None:
    with twilio_app(runtime, voice_mode="stream") as client:
        call = Call(client)
        connect = call.twiml.find("Connect")
        assert connect is not None
        assert connect.attrib["action"] == f"{BASE}{VOICE}/stream-end"
        stream = connect.find("Stream")
        assert (
            stream is not None and stream.attrib["url"] == "ws://testserver/webhooks/twilio/media"
        )
        parameters = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
        app_runtime = client.app.state.runtime
        assert parameters == {
            "caller": call.caller,
            "token": voice_twilio.stream_token(app_runtime, call.sid, call.caller),
        }
        ended = post(client, f"{VOICE}/stream-end", voice_form(call.sid, call.caller))
        assert ElementTree.fromstring(ended.text).find("Hangup") is not None


def test_after_a_stream_handoff_the_call_is_dialled_through(runtime: Runtime) -> None:
    with twilio_app(runtime, voice_operator_number="+15005550100") as client:
        sid = call_sid()
        voice_twilio._remember_transfer(client.app.state.runtime, sid)
        ended = post(client, f"{VOICE}/stream-end", voice_form(sid, caller_number()))
        assert ElementTree.fromstring(ended.text).findtext("Dial") == "+15005550100"
        again = post(client, f"{VOICE}/stream-end", voice_form(sid, caller_number()))
        assert ElementTree.fromstring(again.text).find("Hangup") is not None


def test_the_status_callback_records_how_calls_end(client: TestClient, runtime: Runtime) -> None:
    from bot.storage.channel_state import CallOutcome

    sid = call_sid()
    path = "/webhooks/twilio/voice/status"
    ringing = voice_form(sid, caller_number(), CallStatus="ringing")
    assert post(client, path, ringing).status_code == 204
    ended = voice_form(sid, caller_number(), CallStatus="completed", CallDuration="42")
    assert post(client, path, ended).status_code == 204
    assert post(client, path, ended).status_code == 204  # Twilio's retry: same row
    busy_sid = call_sid()
    assert (
        post(client, path, voice_form(busy_sid, "+8656696", CallStatus="busy")).status_code == 204
    )
    with runtime.db.sessions() as session:
        done = session.get(CallOutcome, sid)
        busy = session.get(CallOutcome, busy_sid)
    assert done is not None and (done.status, done.duration_seconds) == ("completed", 42)
    assert busy is not None and busy.status == "busy"
    bad = voice_form(call_sid(), caller_number(), CallStatus="exploded")
    assert post(client, path, bad).status_code == 400
    unsigned = client.post(path, data=ended)
    assert unsigned.status_code == 403


def test_withheld_callers_never_share_a_conversation(client: TestClient) -> None:
    """Two calls from Twilio's UNKNOWN placeholder: each is its own conversation."""
    from bot.storage.models import Conversation

    calls = [Call(client, caller="+8656696"), Call(client, caller="+8656696")]
    for call in calls:
        call.answer("there is a pothole")
    runtime = client.app.state.runtime
    with runtime.db.sessions() as session:
        keys = set(session.scalars(select(Conversation.sender_key)))
    assert runtime.hasher("voice:+8656696") not in keys
    assert {runtime.hasher(f"voice:call:{c.sid}") for c in calls} <= keys


# -- a caller in danger ----------------------------------------------------------------------
def test_a_caller_in_danger_hears_the_number_first_and_the_call_goes_on(
    client: TestClient,
) -> None:
    call = Call(client)
    twiml = call.answer("theres smoke pouring out of the flat downstairs")
    assert twiml.find("Gather") is not None and twiml.find("Hangup") is None
    speech = call.state()["last_speech"]
    assert speech.startswith("If someone is in danger right now, please hang up and call 9 1 1")


def test_a_caller_in_danger_is_put_through_to_the_emergency_transfer_number(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_clock(runtime, monkeypatch, SUNDAY)  # a caller in danger is put through at any hour
    with twilio_app(
        runtime, voice_operator_number="+15005550100", voice_emergency_number="+15005550111"
    ) as client:
        call = Call(client)
        twiml = call.answer("my husband has collapsed on the floor and is not breathing")
        assert twiml.findtext("Dial") == "+15005550111"
        assert plays(call, f"If someone is in danger right now, call 9 1 1. {EMERGENCY_TRANSFER}")
        set_clock(runtime, monkeypatch, WEDNESDAY_MORNING)
        operator = Call(client).answer("operator")
        assert operator.findtext("Dial") == "+15005550100"  # an ordinary handoff: the operator


def test_after_a_stream_emergency_the_call_is_dialled_to_the_emergency_number(
    runtime: Runtime,
) -> None:
    with twilio_app(
        runtime, voice_operator_number="+15005550100", voice_emergency_number="+15005550111"
    ) as client:
        sid = call_sid()
        voice_twilio._remember_transfer(client.app.state.runtime, sid, emergency=True)
        ended = post(client, f"{VOICE}/stream-end", voice_form(sid, caller_number()))
        assert ElementTree.fromstring(ended.text).findtext("Dial") == "+15005550111"
