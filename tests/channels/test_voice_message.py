"""No one to take the call: a voice message (<Record>) for the staff inbox, never a dead end."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlparse
from xml.etree import ElementTree

import httpx
import pytest
from sqlalchemy import select

from bot.runtime import Runtime
from bot.staff import handoffs
from bot.storage.models import Conversation, Turn
from channels.voice_message import RECORDED_PATH
from tests.channels.channel_helpers import TWILIO_SID
from tests.channels.test_voice_twilio import Call, plays, post, twilio_app
from tests.channels.voice_helpers import SUNDAY, WEDNESDAY_MORNING, set_clock, voice_form
from voice.call import HANDOFF_TRANSFER, LEAVE_MESSAGE, MESSAGE_TAKEN

# A real recording (Debian's asterisk-core-sounds-en-wav) stands in for the caller's message.
MESSAGE_AUDIO = Path("/usr/share/asterisk/sounds/en_US_f_Allison/all-circuits-busy-now.wav")


@pytest.fixture
def at(runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    """Sets the assistant's clock to a local time (office hours depend on it)."""
    return lambda moment: set_clock(runtime, monkeypatch, moment)


def recording_url(sid: str) -> str:
    return f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Recordings/{sid}"


def leave_recording(call: Call, sid: str, seconds: int = 3) -> ElementTree.Element:
    fields = {"RecordingSid": sid, "RecordingUrl": recording_url(sid)}
    fields["RecordingDuration"] = str(seconds)
    response = post(call.client, RECORDED_PATH, voice_form(call.sid, call.caller, **fields))
    assert response.status_code == 200, response.text
    return ElementTree.fromstring(response.text)


def message_turns(runtime: Runtime, caller: str) -> list[Turn]:
    key = runtime.hasher(f"voice:{caller}")
    with runtime.db.sessions() as db:
        conversation = db.scalar(
            select(Conversation).where(
                Conversation.channel == "voice", Conversation.sender_key == key
            )
        )
        assert conversation is not None
        return list(
            db.scalars(
                select(Turn).where(
                    Turn.conversation_id == conversation.id, Turn.outcome == "voice_message"
                )
            )
        )


def test_without_a_transfer_number_the_caller_leaves_a_message_staff_see(
    runtime: Runtime, at
) -> None:
    at(WEDNESDAY_MORNING)
    fetched: list[str] = []

    def twilio_api(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        assert request.headers["authorization"].startswith("Basic ")
        return httpx.Response(200, content=MESSAGE_AUDIO.read_bytes())

    with twilio_app(runtime) as client:
        client.app.state.voice_http = httpx.Client(transport=httpx.MockTransport(twilio_api))
        call = Call(client)
        twiml = call.answer("operator")
        record = twiml.find("Record")
        assert record is not None and twiml.find("Hangup") is None
        assert urlparse(record.attrib["action"]).path == RECORDED_PATH
        assert record.attrib["finishOnKey"] == "#"
        assert plays(call, LEAVE_MESSAGE)
        sid = "RE" + call.sid[2:]
        goodbye = leave_recording(call, sid)
        assert goodbye.find("Hangup") is not None and MESSAGE_TAKEN in goodbye.findtext("Say", "")
        leave_recording(call, sid)  # Twilio retried: still one message
        [turn] = message_turns(runtime, call.caller)
        assert f"call back on {call.caller}" in turn.text and recording_url(sid) in turn.text
        with runtime.db.sessions() as db:
            inbox = [item for item in handoffs.inbox(db) if item.last_text == turn.text]
        assert inbox and inbox[0].handoff.reply_address == call.caller
        for _ in range(100):  # the transcript follows, from our recogniser
            [turn] = message_turns(runtime, call.caller)
            if '"' in turn.text:
                break
            time.sleep(0.1)
        assert fetched == [recording_url(sid) + ".wav"]
        assert "all circuits are busy now" in turn.text.lower()


def test_a_recording_of_another_account_is_refused(runtime: Runtime) -> None:
    with twilio_app(runtime) as client:
        call = Call(client)
        fields = {"RecordingSid": "RE1", "RecordingDuration": "2"}
        fields["RecordingUrl"] = "https://example.org/2010-04-01/Accounts/AC9/Recordings/RE1"
        response = post(client, RECORDED_PATH, voice_form(call.sid, call.caller, **fields))
        assert response.status_code == 400


def test_out_of_hours_a_transfer_number_is_not_dialled_a_message_is_taken(
    runtime: Runtime, at
) -> None:
    with twilio_app(runtime, voice_operator_number="+15005550100") as client:
        at(SUNDAY)
        closed = Call(client).answer("operator")
        assert closed.find("Dial") is None and closed.find("Record") is not None
        at(WEDNESDAY_MORNING)
        call = Call(client)
        open_ = call.answer("operator")
        dial = open_.find("Dial")
        assert dial is not None and dial.text == "+15005550100"
        assert plays(call, HANDOFF_TRANSFER)
