"""SMS through Twilio: signed webhooks, TwiML, keywords, two segments and MORE, notices."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from xml.etree import ElementTree

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot import service_requests
from bot.contract import Choice, OutboundMessage, Reply, Source
from bot.runtime import Runtime
from bot.storage.channel_state import OptOut
from bot.storage.models import Notice
from channels import sms
from channels.outbound import SmsNoticeSender, deliver_pending
from evaluation.qa.provider_fakes import FakeTwilio, twilio_signature, twilio_sms_form
from tests.channels.channel_helpers import (
    TWILIO_FROM,
    TWILIO_SID,
    TWILIO_TOKEN,
    app_for,
    twilio_settings,
)

URL = "http://testserver/webhooks/twilio/sms"


# -- counting segments ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("", 0),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("é" * 160, 1),  # in the GSM-7 basic set
        ("€" * 80, 1),  # extension characters take two septets
        ("€" * 81, 2),
        ("a" * 152 + "€", 1),
        ("a" * 159 + "€", 2),
        ("ł" * 70, 1),  # not GSM-7: UCS-2, 70 a message
        ("ł" * 71, 2),
        ("ł" * 134, 2),
        ("ł" * 135, 3),
        ("😀" * 35, 1),  # a surrogate pair is two UCS-2 units
        ("😀" * 36, 2),
        ("😀" * 67, 3),  # 33 pairs a 67-unit segment: pairs are never split
    ],
)
def test_segments_are_counted_as_carriers_count_them(text: str, count: int) -> None:
    assert sms.segments(text) == count


def test_typographic_punctuation_keeps_gsm7() -> None:
    assert not sms.is_gsm7("It’s “open” – now…")
    assert sms.is_gsm7(sms.plain("It’s “open” – now…"))


@pytest.mark.parametrize("unit", ["word ", "słowo ", "[x] "])
def test_fit_keeps_two_segments_and_loses_nothing(unit: str) -> None:
    text = (unit * 200).strip()
    head, rest = sms.fit(text)
    assert sms.segments(head) <= 2
    assert head.endswith(sms.MORE_HINT)
    assert rest
    assert f"{head.removesuffix(sms.MORE_HINT).strip()} {rest}".split() == text.split()
    assert sms.fit("short") == ("short", "")


def test_render_numbers_choices_and_shows_sources() -> None:
    reply = Reply(
        messages=[
            OutboundMessage(
                text="Bins are collected weekly.",
                source=Source(title="Bins", url="https://www.portalder.example/bins"),
            ),
            OutboundMessage(
                text="Anything else?",
                choices=[
                    Choice(title="Yes", payload="/affirm"),
                    Choice(title="No", payload="/deny"),
                ],
            ),
            OutboundMessage(text="Or pick", choices=[Choice(title="Menu", payload="/help")]),
        ]
    )
    text = sms.render(reply)
    assert "More: https://www.portalder.example/bins" in text
    assert "1. Yes\n2. No\nReply 1 or 2." in text
    assert "3. Menu\nReply 3." in text


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ("STOP", "STOP"),
        (" stop! ", "STOP"),
        ("Cancel.", "CANCEL"),
        ("stop please", None),
        ("", None),
    ],
)
def test_keywords_are_whole_messages(body: str, word: str | None) -> None:
    assert sms.keyword(body) == word


# -- the webhook ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(runtime: Runtime) -> Iterator[TestClient]:
    app = app_for(runtime, twilio_account_sid=TWILIO_SID, twilio_auth_token=TWILIO_TOKEN)
    with TestClient(app) as test_client:
        yield test_client


def phone() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]


def post(
    client: TestClient,
    sender: str,
    body: str,
    *,
    sid: str | None = None,
    url: str = URL,
    **extra: str,
) -> ElementTree.Element:
    response = post_raw(client, sender, body, sid=sid, url=url, **extra)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    return ElementTree.fromstring(response.text)


def post_raw(
    client: TestClient,
    sender: str,
    body: str,
    *,
    sid: str | None = None,
    url: str = URL,
    **extra: str,
) -> httpx.Response:
    form = twilio_sms_form(sender, body, TWILIO_SID, message_sid=sid) | extra
    signature = twilio_signature(TWILIO_TOKEN, url, form)
    return client.post("/webhooks/twilio/sms", data=form, headers={"X-Twilio-Signature": signature})


def said(root: ElementTree.Element) -> str:
    return "\n".join(m.text or "" for m in root.iter("Message"))


def test_unconfigured_sms_refuses_its_webhook(runtime: Runtime) -> None:
    plain = TestClient(app_for(runtime))
    form = twilio_sms_form(phone(), "hi", TWILIO_SID)
    signature = twilio_signature(TWILIO_TOKEN, URL, form)
    response = plain.post(
        "/webhooks/twilio/sms", data=form, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 404


def test_bad_or_missing_signature_is_403(client: TestClient) -> None:
    form = twilio_sms_form(phone(), "hello", TWILIO_SID)
    assert client.post("/webhooks/twilio/sms", data=form).status_code == 403
    wrong = twilio_signature("not-the-token", URL, form)
    response = client.post("/webhooks/twilio/sms", data=form, headers={"X-Twilio-Signature": wrong})
    assert response.status_code == 403
    good = twilio_signature(TWILIO_TOKEN, URL, form)
    tampered = form | {"Body": "something else"}
    response = client.post(
        "/webhooks/twilio/sms", data=tampered, headers={"X-Twilio-Signature": good}
    )
    assert response.status_code == 403


def test_signature_is_checked_against_the_public_url(runtime: Runtime) -> None:
    public = "https://hotline.portalder.example"
    app = app_for(
        runtime, twilio_account_sid=TWILIO_SID, twilio_auth_token=TWILIO_TOKEN, public_url=public
    )
    with TestClient(app) as behind_proxy:
        assert post_raw(behind_proxy, phone(), "hello").status_code == 403  # signed for testserver
        ok = post_raw(behind_proxy, phone(), "hello", url=f"{public}/webhooks/twilio/sms")
        assert ok.status_code == 200 and "<Message>" in ok.text


def test_other_account_and_malformed_forms_are_refused(client: TestClient) -> None:
    form = twilio_sms_form(phone(), "hi", "AC" + "f" * 32)
    signature = twilio_signature(TWILIO_TOKEN, URL, form)
    response = client.post(
        "/webhooks/twilio/sms", data=form, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 403
    form = {"AccountSid": TWILIO_SID, "Body": "no sender, no sid"}
    signature = twilio_signature(TWILIO_TOKEN, URL, form)
    response = client.post(
        "/webhooks/twilio/sms", data=form, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 400
    huge = post_raw(client, phone(), "x" * 5000)
    assert huge.status_code == 400


def test_a_question_is_answered_in_twiml_within_two_segments(client: TestClient) -> None:
    text = said(post(client, phone(), "What is the emergency number?"))
    assert "911" in text
    assert sms.segments(text) <= 2


def test_report_with_numbered_choices_files_a_request(client: TestClient, runtime: Runtime) -> None:
    sender = phone()
    first = said(
        post(client, sender, "there is a deep pothole outside 12 Elm Street that burst my tyre")
    )
    assert "1. Message me here" in first and "Reply 1, 2 or 3." in first
    confirm = said(post(client, sender, "1"))
    assert "Reply 1 or 2." in confirm
    done = said(post(client, sender, "1"))
    reference = done[done.index("REQ-") :][:15]
    with runtime.db.sessions() as session:
        request = service_requests.find(session, reference)
        assert request is not None and request.service_code == "pothole"
        assert request.channel == "sms" and request.reply_address == sender


def test_a_long_answer_waits_for_more(client: TestClient) -> None:
    sender = phone()
    parts = [said(post(client, sender, "How do I get a licence to open a restaurant?"))]
    assert sms.segments(parts[0]) <= 2
    assert parts[0].endswith(sms.MORE_HINT), parts[0]
    while parts[-1].endswith(sms.MORE_HINT) and len(parts) < 10:
        parts.append(said(post(client, sender, "more")))
        assert sms.segments(parts[-1]) <= 2
    assert not parts[-1].endswith(sms.MORE_HINT)
    assert len(parts) >= 2
    nothing_left = said(post(client, sender, "MORE"))  # goes to the assistant now
    assert nothing_left and nothing_left != parts[-1]


def test_a_retried_message_gets_the_same_twiml_once(client: TestClient) -> None:
    sender, sid = phone(), "SM" + uuid.uuid4().hex
    first = post_raw(client, sender, "How do I get a licence to open a restaurant?", sid=sid).text
    assert (
        post_raw(client, sender, "How do I get a licence to open a restaurant?", sid=sid).text
        == first
    )
    more_sid = "SM" + uuid.uuid4().hex
    more = post_raw(client, sender, "MORE", sid=more_sid).text
    assert (
        post_raw(client, sender, "MORE", sid=more_sid).text == more
    )  # MORE does not advance twice


def test_stop_silences_everything_until_start(client: TestClient, runtime: Runtime) -> None:
    sender = phone()
    assert "Reply START" in said(post(client, sender, "STOP"))
    assert said(post(client, sender, "hello")) == ""
    assert said(post(client, sender, "HELP")) == ""
    assert said(post(client, sender, "stop")) == ""  # one confirmation only
    with runtime.db.sessions() as session:
        rows = session.scalars(select(OptOut)).all()
        assert any(row.address_key == runtime.hasher(sender) for row in rows)
        assert all(sender not in (row.address_key, row.keyword) for row in rows)  # never in clear
    assert "Welcome back" in said(post(client, sender, "START"))
    assert said(post(client, sender, "hello"))


@pytest.mark.parametrize("word", ["STOPALL", "unsubscribe", "End", "QUIT", "cancel"])
def test_every_opt_out_keyword_opts_out(client: TestClient, word: str) -> None:
    sender = phone()
    text = said(post(client, sender, word))
    assert "no more messages" in text
    if word == "cancel":
        assert "cancel the report" in text
    assert said(post(client, sender, "hi")) == ""
    assert "Welcome back" in said(post(client, sender, "unstop"))


def test_yes_opts_in_only_a_stopped_number(client: TestClient) -> None:
    sender = phone()
    assert "Welcome back" not in said(post(client, sender, "YES"))  # the dialogue's yes
    post(client, sender, "STOP")
    assert "Welcome back" in said(post(client, sender, "yes"))


def test_help_says_who_we_are_and_how_to_stop(client: TestClient) -> None:
    text = said(post(client, phone(), "help"))
    assert "Port Alder" in text and "STOP" in text
    assert sms.segments(text) <= 2


def test_cancel_in_a_sentence_cancels_the_report_not_the_messages(client: TestClient) -> None:
    sender = phone()
    post(client, sender, "there is a deep pothole outside 12 Elm Street that burst my tyre")
    text = said(post(client, sender, "cancel the report"))
    assert "cancelled" in text.lower()
    assert said(post(client, sender, "hello"))  # still subscribed


def test_picture_only_message_is_asked_for_words(client: TestClient) -> None:
    text = said(post(client, phone(), "", NumMedia="1", MediaUrl0="https://example.com/p.jpg"))
    assert "text" in text.lower()


def test_hostile_text_comes_back_as_well_formed_twiml(client: TestClient) -> None:
    sender = phone()
    post(client, sender, "there is a pothole on Elm Street")
    root = post(client, sender, "</Message><Redirect>http://evil</Redirect> & <b>deep</b> hole")
    assert [child.tag for child in root] in (["Message"], [])


def test_over_the_limit_a_sender_is_told_once(runtime: Runtime) -> None:
    app = app_for(
        runtime,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
        rate_limit_sender="2/minute",
    )
    with TestClient(app) as limited:
        sender = phone()
        assert said(post(limited, sender, "hello")) and said(post(limited, sender, "hello"))
        assert said(post(limited, sender, "hello")) == sms.SLOW_DOWN
        assert said(post(limited, sender, "hello")) == ""
        assert "no more messages" in said(post(limited, sender, "STOP"))  # STOP always works


# -- a status notice by SMS, through twilio's Client --------------------------------------
def test_status_notice_goes_out_through_twilio(client: TestClient, runtime: Runtime) -> None:
    sender = phone()
    post(client, sender, "the street light on Oak Avenue has been dark for three nights")
    post(client, sender, "1")
    reference = said(post(client, sender, "yes"))
    reference = reference[reference.index("REQ-") :][:15]
    with FakeTwilio(TWILIO_SID, TWILIO_TOKEN) as twilio:
        settings = twilio_settings(runtime, twilio.url)
        with runtime.db.transaction() as session:
            request = service_requests.find(session, reference)
            assert request is not None
            notice = service_requests.change_status(session, request, "in_progress", "test")
            assert notice is not None
            notice_id = notice.id
        outcomes = asyncio.run(deliver_pending(runtime, {"sms": SmsNoticeSender(settings)}))
        assert [(o.notice_id, o.status) for o in outcomes] == [(notice_id, "sent")]
        [message] = twilio.messages
        assert message["To"] == sender and message["From"] == TWILIO_FROM
        assert reference in message["Body"]
    with runtime.db.sessions() as session:
        stored = session.get(Notice, notice_id)
        assert stored is not None and stored.status == "sent" and stored.sent_at is not None
        assert stored.provider_id == message["Sid"]
    callback = {
        "MessageSid": message["Sid"],
        "MessageStatus": "delivered",
        "AccountSid": TWILIO_SID,
    }
    url = "http://testserver/webhooks/twilio/sms/status"
    signature = twilio_signature(TWILIO_TOKEN, url, callback)
    response = client.post(
        "/webhooks/twilio/sms/status", data=callback, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 204
    with runtime.db.sessions() as session:
        stored = session.get(Notice, notice_id)
        assert stored is not None and stored.status == "delivered"


def test_an_mms_picture_goes_with_the_report_and_staff_see_it(
    client: TestClient, runtime: Runtime
) -> None:
    sender = phone()
    picture = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    first = said(
        post(
            client,
            sender,
            "there is a deep pothole outside 12 Elm Street that burst my tyre",
            NumMedia="1",
            MediaUrl0=picture,
            MediaContentType0="image/jpeg",
        )
    )
    assert "1. Message me here" in first
    said(post(client, sender, "1"))
    done = said(post(client, sender, "1"))
    reference = done[done.index("REQ-") :][:15]
    with runtime.db.sessions() as session:
        request = service_requests.find(session, reference)
        assert request is not None and request.fields["media_url"] == picture


def test_a_picture_with_no_words_is_asked_for_them(client: TestClient) -> None:
    text = said(post(client, phone(), "", NumMedia="1", MediaUrl0="https://example.com/p.jpg"))
    assert text == sms.PICTURE_ONLY


def test_a_split_keeps_a_label_with_its_link() -> None:
    link = "https://www.portalder.example/services/licences/restaurant-licence-application"
    for filler in range(180, 330, 7):  # the cut falls at every place near the label
        text = f"{'word ' * (filler // 5)}\nMore: {link}\n\nAnd some more text after it. " * 2
        head, rest = sms.fit(text)
        for part in (head, rest):
            assert not part.rstrip().removesuffix(sms.MORE_HINT).rstrip().endswith("More:")
            assert not part.lstrip().startswith("https://"), (filler, part[:80])


def test_a_resident_in_danger_gets_the_emergency_number_first_by_sms(client: TestClient) -> None:
    sender = phone()
    post(client, sender, "there is a pothole on Elm Street")  # a report under way
    root = post(client, sender, "my dad has collapsed and he isnt breathing")
    first = next(root.iter("Message")).text or ""
    assert first.startswith("If someone is in danger right now, call 911.")
    assert "kept your report" in said(root)
    assert "911" not in said(post(client, phone(), "the street light on Elm Street is out"))
