"""The handoff workspace: the number to call back (for those who work handoffs only), the
transcript in plain words, and its live stream of new lines."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from bot.contract import InboundMessage
from bot.runtime import Runtime
from bot.storage.models import Handoff, Turn
from channels import live
from channels.staff.web import when
from tests.channels.staff.conftest import Console


def number() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]


def texted_handoff(runtime: Runtime, sender: str, channel: str = "sms") -> int:
    runtime.assistant.handle(
        InboundMessage(channel=channel, sender=sender, text="I want to talk to a person")
    )
    with runtime.db.sessions() as session:
        return session.scalars(select(Handoff.id).where(Handoff.reply_address == sender)).one()


@pytest.mark.usefixtures("staff_in")
def test_the_number_to_call_back_is_for_staff_who_work_handoffs(
    console: Callable[[str], Console], runtime: Runtime
) -> None:
    sender = number()
    handoff = texted_handoff(runtime, sender)
    agent, qa = console("agent"), console("qa")
    page = agent.get(f"/staff/handoffs/{handoff}").text
    assert f'Number to call back: <a href="tel:{sender}">{sender}</a>' in page
    assert "Conversation" in page and "(SMS)" in page
    seen_by_qa = qa.get(f"/staff/handoffs/{handoff}").text
    assert "I want to talk to a person" in seen_by_qa and sender not in seen_by_qa
    assert "SMS" in agent.get("/staff/handoffs").text  # the channel in words


@pytest.mark.usefixtures("staff_in")
def test_a_withheld_caller_is_said_to_have_no_number(
    console: Callable[[str], Console], runtime: Runtime
) -> None:
    withheld = f"call:CA{uuid.uuid4().hex}"
    handoff = texted_handoff(runtime, withheld, channel="voice")
    page = console("agent").get(f"/staff/handoffs/{handoff}").text
    assert "withheld by the caller" in page and 'href="tel:' not in page


@pytest.mark.usefixtures("staff_in")
def test_pressed_buttons_read_as_their_titles(
    console: Callable[[str], Console], runtime: Runtime
) -> None:
    sender = number()
    handoff = texted_handoff(runtime, sender)
    runtime.assistant.handle(InboundMessage(channel="sms", sender=sender, text="/affirm"))
    page = console("agent").get(f"/staff/handoffs/{handoff}").text
    assert "Pressed: Yes" in page and "/affirm" not in page
    assert "talk_to_human" not in page and "understood as talk to a person" in page


@pytest.mark.usefixtures("staff_in")
def test_the_live_stream_sends_new_lines_in_plain_words(
    console: Callable[[str], Console],
    runtime: Runtime,
    app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        app.state, "live_streams", live.Streams(lifetime=1.0, poll=0.1), raising=False
    )
    sender = number()
    handoff = texted_handoff(runtime, sender)
    with runtime.db.sessions() as session:
        seen = session.scalar(select(Turn.id).order_by(Turn.id.desc()).limit(1))
    runtime.assistant.handle(InboundMessage(channel="sms", sender=sender, text="/contact:channel"))
    qa = console("qa")  # reading is enough to follow a conversation
    response = qa.get(f"/staff/handoffs/{handoff}/events?after={seen}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [
        json.loads(line.removeprefix("data: "))
        for block in response.text.split("\r\n\r\n")
        if "event: turn" in block
        for line in block.splitlines()
        if line.startswith("data: ")
    ]
    said = [e for e in events if e["direction"] == "in"]
    assert [e["text"] for e in said] == ["Pressed: Message me here"]
    assert all(e["id"] > seen for e in events)
    signed_out = qa.client.__class__(app)
    assert (
        signed_out.get(f"/staff/handoffs/{handoff}/events", follow_redirects=False).status_code
        == 303
    )
    assert qa.get("/staff/handoffs/999999999/events").status_code == 404


def test_times_are_the_city_s_time() -> None:
    la = "America/Los_Angeles"
    assert when(datetime(2026, 12, 3, 18, 0, tzinfo=UTC), la) == "2026-12-03 10:00 PST"
    assert when(datetime(2026, 7, 3, 18, 0), la) == "2026-07-03 11:00 PDT"  # naive: UTC
    assert when(None, la) == ""


@pytest.mark.usefixtures("staff_in")
def test_the_pages_show_the_city_s_time(
    console: Callable[[str], Console], runtime: Runtime
) -> None:
    handoff = texted_handoff(runtime, number())
    page = console("agent").get(f"/staff/handoffs/{handoff}").text
    assert re.search(r"asked \d{4}-\d\d-\d\d \d\d:\d\d P[SD]T", page)
    assert " UTC" not in page
