"""The web chat in headless Chromium: keyboard only, remembered settings, axe-core, escaping."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Route, expect
from sqlalchemy import select

from bot import service_requests
from bot.runtime import Runtime
from bot.staff import handoffs
from bot.staff.models import StaffAccount
from bot.storage.models import Handoff
from channels.outbound import WebNoticeSender, deliver_pending
from tests.channels.channel_helpers import BROWSER_MARKS, WebResident, app_for, serve
from tests.channels.staff.conftest import Console, new_account

pytestmark = BROWSER_MARKS
expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def server(runtime: Runtime) -> Iterator[str]:
    with serve(app_for(runtime)) as url:
        yield url


def tab_to(page: Page, condition: str, *, backwards: bool = False, limit: int = 40) -> None:
    """Press Tab (or Shift+Tab) until ``condition`` (JS on the focused element) holds."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if page.evaluate(f"(el => Boolean(el && ({condition})))(document.activeElement)"):
            return
    raise AssertionError(f"keyboard focus never reached {condition}")


def focused_button(title: str) -> str:
    return f"el.tagName === 'BUTTON' && el.textContent.trim() === {title!r}"


def serious(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} - {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_page_and_assets(server: str) -> None:
    page = httpx.get(f"{server}/chat")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<html lang="en">' in page.text and "<h1>" in page.text
    embedded = httpx.get(f"{server}/chat?embed=1")
    assert "<h1>" not in embedded.text and 'class="embedded"' in embedded.text
    widget = httpx.get(f"{server}/chat/widget.js")
    assert widget.status_code == 200 and "javascript" in widget.headers["content-type"]
    assert httpx.get(f"{server}/chat/../app.py").status_code == 404
    assert httpx.get(f"{server}/chat/secrets.txt").status_code == 404
    icon = httpx.get(f"{server}/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO header, not a 404 page
    svg = httpx.get(f"{server}/favicon.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
    assert 'rel="icon" href="/favicon.ico"' in page.text and "/favicon.svg" in page.text
    assert 'name="format-detection"' in page.text  # addresses stay plain, copyable text


def test_report_a_problem_by_keyboard_only(page: Page, server: str, runtime: Runtime) -> None:
    page.goto(f"{server}/chat")
    tab_to(page, "el.id === 'message'")
    page.keyboard.type("there is a deep pothole outside 12 Elm Street that burst my tyre")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Message me here")).to_be_visible()
    expect(page.locator("#message")).to_be_focused()
    tab_to(page, focused_button("Message me here"), backwards=True)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Yes")).to_be_visible()
    # The answered question keeps its answer where its buttons were, for eyes and ears alike.
    asked = page.locator("#messages .message.bot", has_text="How should we tell you")
    expect(asked.locator(".answered")).to_have_text("You chose: Message me here")
    assert asked.locator("button, legend").count() == 0
    tab_to(page, focused_button("Yes"), backwards=True)
    page.keyboard.press("Space")
    expect(page.locator("#transcript")).to_contain_text("REQ-")
    reference = re.search(r"REQ-\d{4}-\d{6}", page.locator("#transcript").inner_text())
    assert reference is not None
    with runtime.db.sessions() as session:
        request = service_requests.find(session, reference.group(0))
        assert request is not None
        assert (request.service_code, request.street, request.channel) == (
            "pothole",
            "Elm Street",
            "web",
        )
    assert page.locator("#messages .message.you").count() == 3
    assert page.get_by_role("log").count() == 1  # new messages are announced


def test_large_text_toggle_is_remembered(page: Page, server: str) -> None:
    page.goto(f"{server}/chat")
    size = "parseFloat(getComputedStyle(document.querySelector('#transcript .text')).fontSize)"
    before = page.evaluate(size)
    tab_to(page, "el.id === 'large-text'")
    page.keyboard.press("Enter")
    expect(page.locator("#large-text")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(size) >= before * 1.25
    page.reload()
    expect(page.locator("#large-text")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(size) >= before * 1.25
    page.locator("#high-contrast").focus()
    page.keyboard.press("Space")
    expect(page.locator("html")).to_have_class(re.compile("high-contrast"))
    page.locator("#large-text").press("Enter")
    expect(page.locator("#large-text")).to_have_attribute("aria-pressed", "false")
    assert page.evaluate(size) == pytest.approx(before)


def test_no_serious_accessibility_violations(page: Page, server: str) -> None:
    page.goto(f"{server}/chat")
    assert serious(page) == []
    page.locator("#message").fill(
        "there is a deep pothole outside 12 Elm Street that burst my tyre"
    )
    page.locator("#message").press("Enter")
    expect(page.locator("#messages .choices button").first).to_be_visible()
    assert serious(page) == []  # with answers and choices on the page
    page.locator("#large-text").click()
    page.locator("#high-contrast").click()
    assert serious(page) == []
    page.set_viewport_size({"width": 320, "height": 640})  # reflow on a small phone
    assert serious(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.goto(f"{server}/chat?embed=1")
    assert serious(page) == []


def test_answers_are_text_never_markup(page: Page, server: str) -> None:
    page.goto(f"{server}/chat")
    hostile = '<img src=x onerror="window.pwned=1"> pothole on Elm Street <b>now</b>'
    page.locator("#message").fill(hostile)
    page.locator("#message").press("Enter")
    expect(page.locator("#messages .message.bot").nth(1)).to_be_visible()
    assert page.locator("#transcript img, #transcript b").count() == 0
    assert page.evaluate("window.pwned") is None
    expect(page.locator("#messages .message.you")).to_contain_text("<img src=x")


def test_microphone_only_where_the_browser_listens(page: Page, server: str) -> None:
    """Headless Chromium has the API and a speech service but denies the microphone."""
    page.goto(f"{server}/chat", wait_until="networkidle")
    speak = page.locator("#speak")
    expect(speak).to_be_visible()
    speak.click()
    expect(page.locator("#status")).to_contain_text("The microphone is blocked")
    expect(page.locator("#status")).to_contain_text("type your message")
    expect(speak).to_be_visible()  # allowed later, it works: the button stays
    # A browser without the API (Firefox) never shows the button.
    page.add_init_script("delete window.SpeechRecognition; delete window.webkitSpeechRecognition;")
    page.reload(wait_until="networkidle")
    expect(speak).to_be_hidden()


def test_microphone_allowed_but_missing_says_so(browser: Browser, server: str) -> None:
    context = browser.new_context(permissions=["microphone"])  # allowed; no device here
    try:
        page = context.new_page()
        page.goto(f"{server}/chat", wait_until="networkidle")
        page.locator("#speak").click()
        expect(page.locator("#status")).not_to_have_text("Listening. Speak now.")
        expect(page.locator("#status")).to_contain_text("type your message")
        expect(page.locator("#speak")).to_have_attribute("aria-pressed", "false")
    finally:
        context.close()


def test_phone_numbers_are_links_and_addresses_plain_text(page: Page, server: str) -> None:
    page.goto(f"{server}/chat")
    page.locator("#message").fill("what is the emergency number")
    page.locator("#message").press("Enter")
    answer = page.locator("#messages .message.bot").nth(1)
    expect(answer.locator("a[href='tel:911']").first).to_have_text("911")
    # One button ("More details") is worded as one, not as a choice among several.
    expect(answer.locator("legend")).to_have_text("Press the button, or type your own answer:")
    page.locator("#message").fill("there is a deep pothole outside 7 Quay Street, it burst my tyre")
    page.locator("#message").press("Enter")
    page.get_by_role("button", name="Message me here").click()
    readback = page.locator("#messages .message.bot", has_text="Let me check")
    expect(readback).to_contain_text("7 Quay Street, Harbourside")
    assert readback.locator("a").count() == 0  # the address and house number stay text


def test_empty_message_is_not_sent(page: Page, server: str) -> None:
    page.goto(f"{server}/chat")
    page.locator("#message").fill("   ")
    page.locator("#message").press("Enter")
    expect(page.locator("#status")).to_contain_text("type a message")
    assert page.locator("#messages .message").count() == 1


def test_a_message_typed_while_the_last_is_on_its_way_waits_its_turn(
    page: Page, server: str
) -> None:
    """A quick typist loses nothing: the second message is sent once the first is answered."""
    held: list[Route] = []
    page.route(
        "**/api/v1/messages", lambda route: route.continue_() if held else held.append(route)
    )
    page.goto(f"{server}/chat")
    page.locator("#message").fill("what is the emergency number")
    page.locator("#message").press("Enter")
    page.wait_for_function(
        "document.querySelector('#transcript').getAttribute('aria-busy') === 'true'"
    )
    page.locator("#message").fill("when is the library open")
    page.locator("#message").press("Enter")
    expect(page.locator("#messages .message.you")).to_have_count(2)
    assert held and page.locator("#messages .message.bot").count() == 1  # still on its way
    held[0].continue_()
    answers = page.locator("#messages .message.bot")
    expect(answers).to_have_count(3)
    expect(answers.nth(1)).to_contain_text("911")
    expect(answers.nth(2)).to_contain_text(re.compile("librar|district", re.IGNORECASE))
    expect(page.locator("#message")).to_have_value("")


def test_notice_appears_on_the_page(page: Page, server: str, runtime: Runtime) -> None:
    import asyncio

    from bot.storage.models import Notice, ServiceRequest

    # The open page hears of the notices from its live stream: no reload, no 60 s poll.
    page.goto(f"{server}/chat")
    assert page.evaluate("localStorage.getItem('hotline.sender')") is None  # nothing to steal
    assert "hotline_chat" not in page.evaluate("document.cookie")  # HttpOnly
    sender = page.evaluate(
        "fetch('/api/v1/notices', {method: 'POST', headers: {'Content-Type': "
        "'application/json'}, body: '{}'}).then(r => r.headers.get('X-Hotline-Sender'))"
    )
    assert sender and sender.startswith("web-")
    with runtime.db.transaction() as session:
        request = ServiceRequest(service_code="pothole", channel="web", reply_address=sender)
        service_requests.file_request(session, request, actor="test")
        service_requests.change_status(session, request, "in_progress", "test")
        hostile = '<img src=x onerror="window.pwned=1"> Call <b>311</b> or (555) 010-2030.'
        session.add(Notice(channel="web", address=sender, text=hostile, author="Maria"))
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's loop
        pool.submit(asyncio.run, deliver_pending(runtime, {"web": WebNoticeSender()})).result()
    notice = page.locator("#messages .message.notice")
    expect(notice).to_contain_text("being worked on")
    expect(notice.locator(".who")).to_have_text("Automatic update from the helpline")
    staff = page.locator("#messages .message.staff")
    expect(staff.locator(".who")).to_have_text("Maria, city helpline")
    expect(staff.locator(".text")).to_contain_text('<img src=x onerror="window.pwned=1"> Call <b>')
    expect(staff.locator("a[href='tel:+15550102030']")).to_have_text("(555) 010-2030")
    assert staff.locator("img, b").count() == 0 and page.evaluate("window.pwned") is None
    # A person and an automatic notice do not look alike (border style, not only colour).
    styles = [
        m.evaluate(
            "el => getComputedStyle(el).borderLeftStyle + getComputedStyle(el).borderLeftWidth"
        )
        for m in (notice, staff)
    ]
    assert styles[0] != styles[1]


@contextmanager
def host_site(body: str) -> Iterator[str]:
    """Another site (another origin on loopback) whose page embeds the widget."""

    class NewsPage(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *_args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), NewsPage)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/news"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_widget_embeds_the_chat_with_one_script_tag(page: Page, server: str) -> None:
    html = (
        "<!doctype html><html lang='en'><head><title>City news</title></head><body>"
        f"<main><h1>City news</h1></main><script src='{server}/chat/widget.js'></script>"
        "</body></html>"
    )
    with host_site(html) as news:
        page.goto(news)
        launcher = page.get_by_role("button", name="Chat with the city helpline")
        expect(launcher).to_have_attribute("aria-expanded", "false")
        launcher.focus()
        page.keyboard.press("Enter")
        expect(launcher).to_have_attribute("aria-expanded", "true")
        chat = page.frame_locator("iframe[title='City helpline chat']")
        expect(chat.locator("#send")).to_be_enabled()  # the chat's script is running
        chat.locator("#message").fill("hello")
        chat.locator("#message").press("Enter")
        expect(chat.locator("#messages .message.bot").nth(1)).to_be_visible()
        chat.locator("#message").press("Escape")
        expect(launcher).to_have_attribute("aria-expanded", "false")
        expect(launcher).to_be_focused()
        assert serious(page) == []


def test_transcript_is_the_cookie_holder_s_own_conversation(server: str) -> None:
    with httpx.Client(base_url=server) as owner, httpx.Client(base_url=server) as stranger:
        owner.post("/api/v1/messages", json={"text": "when is the library open"}).raise_for_status()
        turns = owner.post("/api/v1/transcript", json={}).json()
        assert [t["who"] for t in turns] == ["you", "bot"]
        assert turns[0]["text"] == "when is the library open" and turns[1]["text"]
        # Another browser, whatever it names in the body, sees nothing of it.
        session = owner.cookies.get("hotline_chat")
        for body in ({}, {"channel": "web", "sender": session}, {"sender": "web-x"}):
            assert stranger.post("/api/v1/transcript", json=body).json() == []
        assert owner.post("/api/v1/transcript", content=b"{not json").status_code in (415, 422)


@pytest.mark.usefixtures("staff_in")
def test_a_reload_signs_staff_lines_as_their_notices_did(server: str, runtime: Runtime) -> None:
    with httpx.Client(base_url=server, timeout=30) as client:
        resident = WebResident(client)
        resident.say("I want to talk to a person")
        handoff = open_handoff(runtime, resident.sender or "")
        with runtime.db.transaction() as session:
            handoffs.take(session, handoff, "dana.lopez")
            handoffs.reply(session, handoff, "dana.lopez", "Hello, Dana here.")
            handoffs.hand_back(session, handoff, "dana.lopez")
        assert len(resident.notices()) == 2  # handed out once: a reload must not need them
        staff = [t for t in resident.post("/api/v1/transcript").json() if t["who"] == "staff"]
    assert [(t["author"], t["automatic"]) for t in staff] == [("Dana", False), (None, True)]
    assert staff[0]["text"] == "Hello, Dana here." and staff[1]["text"] == handoffs.HANDED_BACK


def test_the_conversation_survives_a_reload(page: Page, server: str) -> None:
    page.goto(f"{server}/chat", wait_until="networkidle")
    page.locator("#message").fill("there is a pothole outside 12 Elm Street")
    page.keyboard.press("Enter")
    expect(page.locator("#messages .message.bot").last).to_contain_text("describe")
    page.reload(wait_until="networkidle")
    expect(page.locator("#messages .message.you")).to_have_count(1)
    expect(page.locator("#messages .message.you")).to_contain_text("pothole outside 12 Elm")
    expect(page.locator("#messages .message.bot").last).to_contain_text("describe")
    page.locator("#message").fill("a deep hole that burst my tyre")
    page.keyboard.press("Enter")  # the form goes on where it was
    expect(page.locator("#messages .message.bot").last).to_contain_text("tell you about progress")


def open_handoff(runtime: Runtime, sender: str) -> int:
    """The handoff the resident's message opened (the page's answer may still be on its way)."""
    deadline = time.monotonic() + 20
    while True:
        with runtime.db.sessions() as session:
            found = session.scalar(select(Handoff.id).where(Handoff.reply_address == sender))
        if found is not None:
            return found
        assert time.monotonic() < deadline, "no handoff was opened"
        time.sleep(0.1)


@pytest.mark.usefixtures("staff_in")
def test_an_agent_s_reply_reaches_the_open_chat_within_two_seconds(
    page: Page, server: str, runtime: Runtime
) -> None:
    page.goto(f"{server}/chat")
    page.get_by_label("Type your message").fill("I want to talk to a person")
    page.get_by_role("button", name="Send").click()
    sender = page.evaluate(
        "fetch('/api/v1/notices', {method: 'POST', headers: {'Content-Type': "
        "'application/json'}, body: '{}'}).then(r => r.headers.get('X-Hotline-Sender'))"
    )
    handoff = open_handoff(runtime, sender)
    name = f"dana.{new_account(runtime, 'agent')}"
    with runtime.db.transaction() as session:  # a name with a first name to sign with
        account = session.scalars(select(StaffAccount).where(StaffAccount.name == name[5:])).one()
        account.name = name
    with httpx.Client(base_url=server, timeout=30) as client:
        agent = Console(client, name).sign_in()  # type: ignore[arg-type]
        assert agent.post(f"/staff/handoffs/{handoff}/take").status_code == 303
        reply = f"Hello, this is Dana from the city ({uuid.uuid4().hex[:6]})."
        assert agent.post(f"/staff/handoffs/{handoff}/reply", {"text": reply}).status_code == 303
    staff = page.locator("#messages .message.staff")
    expect(staff.locator(".text")).to_have_text(reply, timeout=2000)  # not the 60 s poll
    expect(staff.locator(".who")).to_have_text("Dana, city helpline")
