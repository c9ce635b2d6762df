"""Notices: sent on the channel the resident used, the outcome recorded, nothing sent twice."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from telegram import Bot

from bot import service_requests
from bot.runtime import Runtime
from bot.storage.channel_state import OptOut, prove
from bot.storage.db import Database
from bot.storage.models import Notice, ServiceRequest
from channels.outbound import (
    SmsNoticeSender,
    TelegramNoticeSender,
    WebNoticeSender,
    build_senders,
    deliver_pending,
)
from evaluation.qa.provider_fakes import (
    FakeTelegram,
    FakeTwilio,
    twilio_signature,
    twilio_sms_form,
)
from tests.channels.channel_helpers import (
    TELEGRAM_TOKEN,
    TWILIO_FROM,
    TWILIO_SID,
    TWILIO_TOKEN,
    WebResident,
    app_for,
    channel_settings,
    twilio_settings,
)
from tests.databases import NEEDS_POSTGRES, fresh_database_url


def notice_for(runtime: Runtime, channel: str, address: str | None, *, proven: bool = True) -> int:
    """A filed request on ``channel`` and the notice its status change creates.

    ``proven``: the address wrote (or called) on its channel first, as a real resident's has.
    """
    if proven and address and channel != "web":
        prove(runtime.db, channel, runtime.hasher(address))
    with runtime.db.transaction() as session:
        request = ServiceRequest(
            service_code="pothole",
            description="a deep pothole",
            channel=channel,
            reply_address=address,
            contact_preference="channel",
        )
        service_requests.file_request(session, request, actor="test")
        notice = service_requests.change_status(session, request, "acknowledged", "test")
        assert notice is not None
        return notice.id


def stored(runtime: Runtime, notice_id: int) -> Notice:
    with runtime.db.sessions() as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None
        return notice


def deliver(runtime: Runtime, senders: dict) -> dict[int, str]:
    return {o.notice_id: o.status for o in asyncio.run(deliver_pending(runtime, senders))}


def test_web_notice_waits_for_the_page_and_is_handed_out_once(runtime: Runtime) -> None:
    client = TestClient(app_for(runtime))
    resident, stranger = WebResident(client), WebResident(client)
    assert resident.notices() == [] and resident.sender
    notice_id = notice_for(runtime, "web", resident.sender)
    assert deliver(runtime, {"web": WebNoticeSender()})[notice_id] == "sent"
    # Another browser naming the resident in every field of the body gets nothing.
    stolen = stranger.post("/api/v1/notices", {"channel": "web", "sender": resident.sender})
    assert stolen.status_code == 200 and stolen.json() == []
    [notice] = resident.notices()
    assert notice["id"] == notice_id and "accepted" in notice["text"]
    assert notice["author"] is None  # automatic: the page labels it as an update
    assert "".join(p["text"] for p in notice["parts"]) == notice["text"]
    assert resident.notices() == []
    assert stored(runtime, notice_id).status == "delivered"


def test_unconfigured_channel_leaves_the_notice_pending(runtime: Runtime) -> None:
    notice_id = notice_for(runtime, "telegram", "123456")
    settings = channel_settings(runtime)  # no Telegram, no Twilio
    senders = build_senders(settings)
    assert set(senders) == {"web"}
    assert notice_id not in deliver(runtime, senders)
    assert stored(runtime, notice_id).status == "pending"


@pytest.fixture(scope="module")
def bot_api() -> Iterator[FakeTelegram]:
    with FakeTelegram(TELEGRAM_TOKEN) as fake:
        yield fake


def telegram_sender(bot_api: FakeTelegram) -> TelegramNoticeSender:
    bot = Bot(TELEGRAM_TOKEN, base_url=f"{bot_api.url}/bot")
    return TelegramNoticeSender(bot)


def test_telegram_notice_is_delivered_by_the_bot_api(
    runtime: Runtime, bot_api: FakeTelegram
) -> None:
    chat = 10**9 + uuid.uuid4().int % 10**9
    notice_id = notice_for(runtime, "telegram", str(chat))
    assert deliver(runtime, {"telegram": telegram_sender(bot_api)})[notice_id] == "delivered"
    [call] = bot_api.sent(chat)
    assert "accepted by the team" in call.text
    notice = stored(runtime, notice_id)
    assert notice.status == "delivered" and notice.sent_at and notice.provider_id
    assert deliver(runtime, {"telegram": telegram_sender(bot_api)}).get(notice_id) is None
    assert len(bot_api.sent(chat)) == 1  # never twice


def test_a_staff_reply_is_signed_with_the_writer_s_first_name(
    runtime: Runtime, bot_api: FakeTelegram
) -> None:
    chat = 10**9 + uuid.uuid4().int % 10**9
    prove(runtime.db, "telegram", runtime.hasher(str(chat)))  # the chat wrote to the bot
    with runtime.db.transaction() as session:
        notice = Notice(channel="telegram", address=str(chat), text="Call 311.", author="Maria")
        session.add(notice)
        session.flush()
        notice_id = notice.id
    assert deliver(runtime, {"telegram": telegram_sender(bot_api)})[notice_id] == "delivered"
    assert [c.text for c in bot_api.sent(chat)] == ["Maria, city helpline: Call 311."]


def test_blocked_bot_fails_at_once_but_an_outage_is_retried(
    runtime: Runtime, bot_api: FakeTelegram
) -> None:
    blocked = notice_for(runtime, "telegram", "1111111")
    bot_api.failures["sendMessage"] = (403, "Forbidden: bot was blocked by the user")
    try:
        assert deliver(runtime, {"telegram": telegram_sender(bot_api)})[blocked] == "failed"
        assert "blocked" in (stored(runtime, blocked).error or "")
        outage = notice_for(runtime, "telegram", "2222222")
        bot_api.failures["sendMessage"] = (502, "Bad Gateway")
        assert deliver(runtime, {"telegram": telegram_sender(bot_api)})[outage] == "pending"
        assert stored(runtime, outage).error
    finally:
        bot_api.failures.clear()
    assert deliver(runtime, {"telegram": telegram_sender(bot_api)})[outage] == "delivered"


def test_sms_notice_skips_a_stopped_number_and_records_refusals(runtime: Runtime) -> None:
    stopped, invalid, fine = "+15550000001", "+15550000002", "+15550000003"
    with runtime.db.transaction() as session:
        session.merge(OptOut(channel="sms", address_key=runtime.hasher(stopped), keyword="STOP"))
    ids = [notice_for(runtime, "sms", number) for number in (stopped, invalid, fine)]
    with FakeTwilio(TWILIO_SID, TWILIO_TOKEN) as twilio:
        twilio.refuse(invalid, 400, 21211, "The 'To' number is not a valid phone number.")
        settings = twilio_settings(runtime, twilio.url)
        outcomes = deliver(runtime, build_senders(settings))
        assert [outcomes[i] for i in ids] == ["failed", "failed", "sent"]
        assert [m["To"] for m in twilio.messages] == [fine]
    assert "opted out" in (stored(runtime, ids[0]).error or "")
    assert "21211" in (stored(runtime, ids[1]).error or "")


def test_phone_notices_go_out_by_sms_to_the_callers_number(runtime: Runtime) -> None:
    stopped, fine, withheld = "+15550000011", "+15550000012", "call:CA" + "0" * 32
    with runtime.db.transaction() as session:
        session.merge(OptOut(channel="sms", address_key=runtime.hasher(stopped), keyword="STOP"))
    ids = [notice_for(runtime, "voice", address) for address in (stopped, fine, withheld)]
    with FakeTwilio(TWILIO_SID, TWILIO_TOKEN) as twilio:
        settings = twilio_settings(runtime, twilio.url)
        outcomes = deliver(runtime, build_senders(settings))
        assert [outcomes[i] for i in ids] == ["failed", "sent", "failed"]
        [message] = [m for m in twilio.messages if m["To"] in (stopped, fine, withheld)]
        assert (message["To"], message["From"]) == (fine, TWILIO_FROM)
        assert "accepted by the team" in message["Body"]
    assert "opted out" in (stored(runtime, ids[0]).error or "")
    assert stored(runtime, ids[1]).provider_id
    assert "withheld" in (stored(runtime, ids[2]).error or "")
    without_twilio = build_senders(channel_settings(runtime))
    assert "voice" not in without_twilio  # no SMS configured: phone notices wait, pending


def test_wrong_credentials_are_a_refusal(runtime: Runtime) -> None:
    notice_id = notice_for(runtime, "sms", "+15550000004")
    with FakeTwilio(TWILIO_SID, "another-token") as twilio:
        settings = twilio_settings(runtime, twilio.url)
        assert deliver(runtime, {"sms": SmsNoticeSender(settings)})[notice_id] == "failed"
        assert twilio.messages == []


def test_concurrent_rounds_send_each_notice_once(runtime: Runtime, bot_api: FakeTelegram) -> None:
    chats = [10**9 + uuid.uuid4().int % 10**9 for _ in range(5)]
    ids = [notice_for(runtime, "telegram", str(chat)) for chat in chats]

    async def two_rounds() -> None:
        senders = {"telegram": telegram_sender(bot_api)}
        await asyncio.gather(deliver_pending(runtime, senders), deliver_pending(runtime, senders))

    asyncio.run(two_rounds())
    assert [len(bot_api.sent(chat)) for chat in chats] == [1] * 5
    assert {stored(runtime, i).status for i in ids} == {"delivered"}


def test_the_app_delivers_in_the_background(runtime: Runtime) -> None:
    sender = "web-" + uuid.uuid4().hex
    notice_id = notice_for(runtime, "web", sender)
    with TestClient(app_for(runtime, notice_interval_seconds=0.1)):
        deadline = time.monotonic() + 10
        # Claimed ("sending") before it is sent: wait out both, inside the app's lifetime.
        while stored(runtime, notice_id).status in ("pending", "sending"):
            assert time.monotonic() < deadline, "not delivered within 10 s"
            time.sleep(0.05)
    assert stored(runtime, notice_id).status == "sent"


def test_no_updates_wanted_means_no_notice(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        request = ServiceRequest(
            service_code="pothole", channel="sms", reply_address=None, contact_preference="none"
        )
        service_requests.file_request(session, request, actor="test")
        assert service_requests.change_status(session, request, "closed", "test") is None


@pytest.mark.postgres
@NEEDS_POSTGRES
def test_two_instances_on_postgresql_send_each_notice_once(
    runtime: Runtime, bot_api: FakeTelegram, tmp_path: Path
) -> None:
    with fresh_database_url("postgresql", tmp_path) as url:
        instances = [dataclasses.replace(runtime, db=Database(url)) for _ in range(2)]
        try:
            chats = [10**9 + uuid.uuid4().int % 10**9 for _ in range(8)]
            ids = [notice_for(instances[0], "telegram", str(chat)) for chat in chats]

            async def both() -> None:
                await asyncio.gather(
                    *(deliver_pending(i, {"telegram": telegram_sender(bot_api)}) for i in instances)
                )

            asyncio.run(both())
            assert [len(bot_api.sent(chat)) for chat in chats] == [1] * 8
            assert {stored(instances[1], i).status for i in ids} == {"delivered"}
        finally:
            for instance in instances:
                instance.db.engine.dispose()


def test_the_city_messages_only_addresses_their_channel_proved(
    runtime: Runtime, bot_api: FakeTelegram
) -> None:
    """Reports filed in someone else's name (an integration naming any number or chat) make
    the city message no one; once that number texts in (a signed webhook), notices reach it."""
    number, chat = "+1555" + str(uuid.uuid4().int)[:7], str(10**9 + uuid.uuid4().int % 10**9)
    unproven_sms = notice_for(runtime, "sms", number, proven=False)
    unproven_chat = notice_for(runtime, "telegram", chat, proven=False)
    unproven_caller = notice_for(runtime, "voice", number, proven=False)
    with FakeTwilio(TWILIO_SID, TWILIO_TOKEN) as twilio:
        settings = twilio_settings(runtime, twilio.url)
        senders = {**build_senders(settings), "telegram": telegram_sender(bot_api)}
        outcomes = deliver(runtime, senders)
        assert [outcomes[i] for i in (unproven_sms, unproven_chat, unproven_caller)] == [
            "failed"
        ] * 3
        assert [m for m in twilio.messages if m["To"] == number] == []
        assert bot_api.sent(int(chat)) == []
        assert "never reached us on sms" in (stored(runtime, unproven_sms).error or "")
        client = TestClient(
            app_for(runtime, twilio_account_sid=TWILIO_SID, twilio_auth_token=TWILIO_TOKEN)
        )
        form = twilio_sms_form(number, "hello", TWILIO_SID)
        url = "http://testserver/webhooks/twilio/sms"
        signed = {"X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url, form)}
        assert client.post("/webhooks/twilio/sms", data=form, headers=signed).status_code == 200
        texted = notice_for(runtime, "sms", number, proven=False)
        called = notice_for(runtime, "voice", number, proven=False)  # texting is not calling
        outcomes = deliver(runtime, senders)
        assert (outcomes[texted], outcomes[called]) == ("sent", "failed")
        assert [m["To"] for m in twilio.messages if m["To"] == number] == [number]
