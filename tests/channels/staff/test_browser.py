"""The console in real headless Chromium against a real server: a few whole tasks, by
keyboard where it matters, with axe-core on every page they pass through."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from sqlalchemy import select

from bot.runtime import Runtime
from bot.storage.models import Handoff, OutboxMessage
from tests.channels.channel_helpers import BROWSER_MARKS, WebResident, app_for, serve
from tests.channels.staff.conftest import PASSWORD, new_account
from tests.channels.staff.helpers import dead_request, file_request

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def server(runtime: Runtime) -> Iterator[str]:
    with serve(app_for(runtime)) as url:
        yield url


def assert_accessible(page: Page) -> None:
    results = Axe().run(page)
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} - {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not serious, f"{page.url}: {serious}"


def sign_in(page: Page, server: str, name: str) -> None:
    """By keyboard only: the skip link comes first, then the form."""
    page.goto(f"{server}/staff/knowledge")  # not signed in: sent to the sign-in page
    expect(page).to_have_url(f"{server}/staff/login?next=%2Fstaff%2Fknowledge")
    assert_accessible(page)
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # focus is visible
    page.keyboard.press("Tab")
    expect(page.get_by_label("Staff name")).to_be_focused()
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{server}/staff/knowledge")


def bot_says(server: str, text: str) -> str:
    """What the bot answers a new web resident."""
    with httpx.Client(base_url=server, timeout=30) as client:
        return WebResident(client).say(text)["messages"][0]["text"]


def test_create_edit_and_roll_back_an_article(page: Page, server: str, runtime: Runtime) -> None:
    sign_in(page, server, new_account(runtime, "editor"))
    word = uuid.uuid4().hex[:6]
    question = f"When does the lantern parade {word} start?"
    first = f"The lantern parade {word} starts at 7 pm at the harbour."
    page.get_by_role("link", name="New article").click()
    assert_accessible(page)
    page.get_by_role("button", name="Create article").click()  # empty: every problem named
    expect(page.get_by_role("alert")).to_contain_text("Title: must not be empty")
    assert_accessible(page)
    page.get_by_label("Title", exact=True).fill(f"Lantern parade {word}")
    page.get_by_label("Spoken answer").fill(first)
    page.get_by_label("Full answer").fill("Bring a lantern; the walk ends in Alder Park.")
    page.get_by_label("Question variants").fill(question)
    page.get_by_label("Category").fill("events")
    page.get_by_label("Department").fill("Culture Office")
    page.get_by_label("Status", exact=True).select_option("published")
    page.get_by_label("Source URL").fill("https://www.portalder.example/events/lanterns")
    page.get_by_role("button", name="Create article").click()
    expect(page.get_by_role("status")).to_contain_text("Created")
    assert_accessible(page)
    assert bot_says(server, question) == first

    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Spoken answer").fill(f"Changed: the parade {word} starts at 8 pm.")
    page.get_by_label("What changed").fill("new time")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved revision 2")
    assert "8 pm" in bot_says(server, question)

    page.get_by_role("link", name="Revisions and roll back").click()
    expect(page.locator("pre.diff")).to_contain_text("8 pm")
    assert_accessible(page)
    page.get_by_role("button", name="Roll back to revision 1").click()
    expect(page.get_by_role("status")).to_contain_text("Rolled back to revision 1")
    assert bot_says(server, question) == first

    page.get_by_label("A resident's question").fill(question)
    page.keyboard.press("Enter")
    expect(page.locator("#preview-result")).to_contain_text(f"Lantern parade {word}")
    assert_accessible(page)


def test_import_with_a_bad_row_applies_nothing(
    page: Page, server: str, runtime: Runtime, tmp_path: Path
) -> None:
    sign_in(page, server, new_account(runtime, "editor"))
    good, bad = f"ferry-{uuid.uuid4().hex[:6]}", f"ferry-{uuid.uuid4().hex[:6]}"
    header = "slug,title,short_answer,answer,questions,category,department,source_url\n"
    row = (
        '{slug},Ferry times,"The ferry leaves every hour.","{answer}","When is the ferry {slug}?",'
        "transport,Harbour Office,https://www.portalder.example/ferry\n"
    )
    path = tmp_path / "articles.csv"
    path.write_text(
        header + row.format(slug=good, answer="Hourly from 6.") + row.format(slug=bad, answer=""),
        encoding="utf-8",
    )
    page.get_by_role("link", name="Import CSV or YAML").click()
    assert_accessible(page)
    page.get_by_label("File (.csv, .yml or .yaml)").set_input_files(str(path))
    page.get_by_role("button", name="Import", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Nothing was imported")
    expect(alert).to_contain_text("row 3: answer: must not be empty")
    assert_accessible(page)
    assert runtime.knowledge.get_by_slug(good) is None


@pytest.mark.usefixtures("staff_in")
def test_agent_changes_a_request_and_answers_a_handoff(
    page: Page, server: str, runtime: Runtime
) -> None:
    reference = file_request(runtime, "web", f"web-{uuid.uuid4().hex}")
    resident = WebResident(httpx.Client(base_url=server, timeout=30))
    resident.say("I want to talk to a person")
    sign_in(page, server, new_account(runtime, "agent"))
    page.get_by_role("link", name="Requests").click()
    page.get_by_label("Status").select_option("submitted")
    page.get_by_role("button", name="Filter").click()
    assert_accessible(page)
    page.get_by_role("link", name=reference).click()
    page.get_by_label("New status").select_option("acknowledged")
    page.get_by_label("Note for the resident (optional)").fill("The road team has it.")
    page.get_by_role("button", name="Change status and tell the resident").click()
    expect(page.get_by_role("status")).to_contain_text("Notice to the resident: sent")
    expect(page.locator("#notices")).to_contain_text("The road team has it.")
    expect(page.locator("#request-status")).to_have_text("acknowledged")
    assert_accessible(page)

    page.get_by_role("link", name="Handoffs").click()
    assert_accessible(page)
    with runtime.db.sessions() as session:
        waiting = select(Handoff.id).where(Handoff.reply_address == resident.sender)
        handoff = session.scalars(waiting).one()
    page.get_by_role("link", name=f"Open conversation {handoff}", exact=True).click()
    expect(page.locator(".transcript")).to_contain_text("I want to talk to a person")
    page.get_by_role("button", name="Take this conversation").click()
    page.get_by_label("Your reply to the resident").fill("Hi, I am Sam. How can I help?")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("status")).to_contain_text("Reply: sent")
    expect(page.locator(".transcript")).to_contain_text("Hi, I am Sam. How can I help?")
    assert_accessible(page)
    assert [n["text"] for n in resident.notices()] == ["Hi, I am Sam. How can I help?"]
    page.get_by_role("button", name="Hand back to the bot").click()
    expect(page.get_by_role("status")).to_contain_text("The bot has the conversation again")

    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("svg[role=img]").first).to_be_visible()
    assert_accessible(page)


def outbox_status(runtime: Runtime, row_id: int) -> str:
    with runtime.db.sessions() as session:
        row = session.get(OutboxMessage, row_id)
        assert row is not None
        return row.status


def test_agent_retries_a_dead_outbox_row(page: Page, server: str, runtime: Runtime) -> None:
    reference, row_id = dead_request(runtime)
    sign_in(page, server, new_account(runtime, "agent"))
    page.get_by_role("link", name="Outbox").click()
    row = page.locator("#outbox-dead tr", has_text=reference)
    expect(row).to_contain_text("open311: HTTP 503")
    assert_accessible(page)
    row.get_by_role("button", name=f"Retry {reference}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Outbox row {row_id} is back in line")
    expect(page.locator("#outbox-dead")).not_to_contain_text(reference)
    assert_accessible(page)
    deadline = time.monotonic() + 20  # the app's own dispatcher delivers it
    while outbox_status(runtime, row_id) != "delivered":
        assert time.monotonic() < deadline, outbox_status(runtime, row_id)
        time.sleep(0.1)


def test_every_console_page_passes_axe(page: Page, server: str, runtime: Runtime) -> None:
    runtime.knowledge.record_unanswered("Can I moor a houseboat in the harbour?", "en", "web")
    sign_in(page, server, new_account(runtime, "admin"))
    article = runtime.knowledge.get_by_slug("emergency-numbers")
    for path in (
        "/staff",
        "/staff/knowledge",
        f"/staff/knowledge/{article.id}/edit",
        "/staff/knowledge/import",
        "/staff/unanswered",
        "/staff/requests",
        "/staff/handoffs",
        "/staff/outbox",
        "/staff/accounts",
        "/staff/tokens",
        "/staff/password",
        "/staff/knowledge/999999",
    ):
        page.goto(f"{server}{path}")
        expect(page.locator("h1")).to_be_visible()
        assert_accessible(page)


def handoff_of(runtime: Runtime, sender: str | None) -> int:
    with runtime.db.sessions() as session:
        return session.scalars(select(Handoff.id).where(Handoff.reply_address == sender)).one()


@pytest.mark.usefixtures("staff_in")
def test_a_resident_s_new_message_appears_on_the_open_handoff_page(
    page: Page, server: str, runtime: Runtime
) -> None:
    resident = WebResident(httpx.Client(base_url=server, timeout=30))
    resident.say("I want to talk to a person")
    resident.say("/contact:channel")  # a pressed button: staff read its title
    handoff = handoff_of(runtime, resident.sender)
    sign_in(page, server, new_account(runtime, "agent"))
    page.goto(f"{server}/staff/handoffs/{handoff}")
    transcript = page.locator("#transcript")
    expect(transcript).to_contain_text("Pressed: Message me here")
    expect(transcript).not_to_contain_text("/contact:channel")
    page.get_by_role("button", name="Take this conversation").click()
    # The reply box comes after the conversation, newest message last.
    box = page.get_by_label("Your reply to the resident").bounding_box()
    last = transcript.locator("li").last.bounding_box()
    assert box and last and box["y"] > last["y"]
    page.evaluate("window.notReloaded = true")
    word = uuid.uuid4().hex[:6]
    resident.say(f"My bin {word} was not emptied")
    said = transcript.locator("li.turn-in", has_text=f"My bin {word} was not emptied")
    expect(said).to_have_count(1)
    expect(page.locator("#live-status")).to_have_text("New message from the resident.")
    assert page.evaluate("window.notReloaded") is True
    assert_accessible(page)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    assert_accessible(page)


@pytest.mark.usefixtures("staff_in")
def test_a_new_resident_waiting_appears_in_the_open_inbox(
    page: Page, server: str, runtime: Runtime
) -> None:
    sign_in(page, server, new_account(runtime, "qa"))
    page.goto(f"{server}/staff/handoffs")
    page.evaluate("window.notReloaded = true")
    resident = WebResident(httpx.Client(base_url=server, timeout=30))
    resident.say("I want to talk to a person")
    handoff = handoff_of(runtime, resident.sender)
    row = page.locator("#inbox tbody tr", has_text=f"Open conversation {handoff}")
    expect(row).to_contain_text("web chat")
    expect(row).to_contain_text("I want to talk to a person")
    expect(page.locator("#live-status")).to_contain_text(f"conversation {handoff}")
    assert page.evaluate("window.notReloaded") is True
    assert_accessible(page)
    row.get_by_role("link", name=f"Open conversation {handoff}").click()
    expect(page.locator("#transcript")).to_contain_text("I want to talk to a person")
    expect(page.locator("#callback")).to_have_count(0)  # web chat: no number to call


def test_a_new_request_appears_on_the_open_request_list(
    page: Page, server: str, runtime: Runtime
) -> None:
    sign_in(page, server, new_account(runtime, "agent"))
    page.goto(f"{server}/staff/requests")
    expect(page.locator("#new-requests")).to_be_hidden()
    page.evaluate("window.notReloaded = true")
    reference = file_request(runtime, "sms", "+15550100")
    entry = page.locator("#new-requests li", has_text=reference)
    expect(entry).to_contain_text("Northgate")
    expect(entry).to_contain_text("via SMS")
    expect(page.locator("#live-status")).to_contain_text(f"New request {reference}")
    assert page.evaluate("window.notReloaded") is True
    assert_accessible(page)
    entry.get_by_role("link", name=reference).click()
    expect(page.locator("#request-status")).to_have_text("submitted")
