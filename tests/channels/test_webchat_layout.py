"""What a resident on a phone, at 200 % zoom or with "Bigger text" sees: page and widget.

One conversation per surface (an answer with phone numbers, a staff reply, an automatic
notice, an answered choice, a read-back naming Harbourside, open Yes/No buttons), then the
same transcript at each width and text size: every button inside the viewport and passing
Playwright's actionability checks (a trial click), no horizontal scroll, one scroll area,
no word broken across lines, and axe-core at zero violations. Screenshots are written to
``$HOTLINE_SCREENSHOT_DIR`` (or a pytest temporary folder) for a person to look at.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Frame, FrameLocator, Page, expect

from bot.runtime import Runtime
from bot.staff import handoffs
from channels.outbound import WebNoticeSender, deliver_pending
from tests.channels.channel_helpers import BROWSER_MARKS, app_for, serve
from tests.channels.test_webchat import host_site

pytestmark = BROWSER_MARKS
expect.set_options(timeout=20_000)

# (name, width, height) in CSS px: phones, desktops at 200 % zoom (the CSS viewport halves),
# a desktop.
VIEWPORTS = [
    ("320", 320, 568),
    ("390", 390, 844),
    ("1280-at-200pc", 640, 360),
    ("1920-at-200pc", 960, 540),
    ("1280", 1280, 800),
]
REPORT = "there is a deep pothole outside 7 Quay Street that burst my tyre"

# A host page whose own styles would wreck a widget that lived in the page's DOM.
HOSTILE_CSS = """
html { font-size: 62.5%; } * { box-sizing: content-box !important; }
button { width: 100%; font-size: 40px; position: static; display: block; }
iframe { height: 150px; max-width: 300px; } section, aside { display: grid; padding: 40px; }
div { transform: translateZ(0); } body { margin: 0 8px; font: 1.6rem/1.4 Georgia, serif; }
"""


@pytest.fixture(scope="module")
def server(runtime: Runtime) -> Iterator[str]:
    with serve(app_for(runtime)) as url:
        yield url


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("HOTLINE_SCREENSHOT_DIR")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screens")
    path.mkdir(parents=True, exist_ok=True)
    return path


def staff_reply_and_hand_back(runtime: Runtime) -> None:
    """A member of staff ("maria.lopez") answers the newest web handoff, then hands back."""
    with runtime.db.transaction() as session:
        waiting = [
            i.handoff.id
            for i in handoffs.inbox(session, include_taken=False)
            if i.conversation.channel == "web"
        ]
        assert waiting, "the resident's request for a person made no handoff"
        handoff_id = max(waiting)  # the tests run one at a time: the newest is this one
        handoffs.take(session, handoff_id, "maria.lopez")
        handoffs.reply(
            session,
            handoff_id,
            "maria.lopez",
            "I have asked the roads team to look at Quay Street today. If the road is unsafe, "
            "call 911; for anything else call 311 or the roads office on (555) 010-2030.",
        )
        handoffs.hand_back(session, handoff_id, "maria.lopez")
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's loop
        pool.submit(asyncio.run, deliver_pending(runtime, {"web": WebNoticeSender()})).result()


def converse(chat: Page | FrameLocator, page: Page, runtime: Runtime) -> None:
    """The states the issue names, reached the way a resident reaches them."""
    chat.locator("#message").fill("I want to talk to a person")
    chat.locator("#message").press("Enter")
    expect(chat.locator("#messages .message.bot")).to_have_count(2)
    staff_reply_and_hand_back(runtime)
    page.reload()
    if isinstance(chat, FrameLocator):
        open_widget(page)
    # The reply, restored from the transcript after the reload, is signed by its notice.
    reply = chat.locator("#messages .message.staff").filter(has_text="roads team")
    expect(reply).to_contain_text("Maria, city helpline")
    expect(chat.locator("#messages .message.notice")).to_contain_text("finished")
    chat.locator("#message").fill("what is the emergency number?")
    chat.locator("#message").press("Enter")
    expect(chat.locator("#messages a[href='tel:911']").first).to_be_visible()
    chat.locator("#message").fill(REPORT)
    chat.locator("#message").press("Enter")
    contact = chat.get_by_role("button", name="Message me here")
    expect(contact).to_be_visible(timeout=45_000)  # a report's turn is slower on a busy machine
    contact.click()
    expect(chat.locator("#messages .answered").last).to_have_text("You chose: Message me here")
    expect(chat.get_by_role("button", name="Yes")).to_be_visible()
    expect(chat.locator("#messages")).to_contain_text("Harbourside")


def open_widget(page: Page) -> None:
    launcher = page.get_by_role("button", name="Chat with the city helpline")
    if launcher.get_attribute("aria-expanded") != "true":
        launcher.click()
    expect(page.locator("iframe[title='City helpline chat']")).to_be_visible()
    chat = page.frame_locator("iframe[title='City helpline chat']")
    expect(chat.locator("#send")).to_be_enabled()  # the chat's script is running


FIND_PROBLEMS = """() => {
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth) problems.push(`scrolls sideways: ${doc.scrollWidth}`);
  for (const el of document.querySelectorAll("body *")) {
    const style = getComputedStyle(el);
    if (el.tagName !== "TEXTAREA" && /auto|scroll/.test(style.overflowY + style.overflowX)
        && (el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1)) {
      problems.push(`a scroll box inside the page: ${el.tagName}#${el.id}.${el.className}`);
    }
  }
  // A word broken across lines has pieces on two lines.
  const messages = document.getElementById("messages");
  const walker = document.createTreeWalker(messages, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const m of node.data.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const rects = [...range.getClientRects()].filter(r => r.width > 0);
      const tops = new Set(rects.map(r => Math.round(r.top)));
      if (tops.size > 1) problems.push(`word broken across lines: ${m[0]}`);
    }
  }
  return problems;
}"""


def check_buttons(page: Page, frame: Frame) -> list[str]:
    """Every button of ``frame`` inside the (top) viewport, each passing a trial click."""
    problems = []
    width = page.viewport_size["width"]
    height = page.viewport_size["height"]
    for button in frame.locator("button:visible").all():
        name = button.inner_text().strip()
        button.scroll_into_view_if_needed()
        box = button.bounding_box()
        assert box is not None
        if box["x"] < -0.5 or box["x"] + box["width"] > width + 0.5:
            problems.append(f"{name!r} clipped sideways: {box}")
        if box["y"] < -0.5 or box["y"] + box["height"] > height + 0.5:
            problems.append(f"{name!r} not wholly in view: {box}")
        button.click(trial=True, timeout=5_000)  # visible, stable, enabled, not covered
    return problems


def no_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} - {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
    ]


def set_bigger_text(frame: Frame, on: bool) -> None:
    toggle = frame.locator("#large-text")
    if (toggle.get_attribute("aria-pressed") == "true") != on:
        toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true" if on else "false")


@pytest.mark.usefixtures("staff_in")  # a handoff that staff answer at once
def test_the_page_at_every_size(page: Page, server: str, runtime: Runtime, shots: Path) -> None:
    page.goto(f"{server}/chat", wait_until="networkidle")
    converse(page, page, runtime)
    for name, width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        for bigger in (False, True):
            set_bigger_text(page.main_frame, bigger)
            label = f"page-{name}-{'bigger' if bigger else 'normal'}"
            page.screenshot(path=shots / f"{label}.png", full_page=True)
            problems = page.evaluate(FIND_PROBLEMS) + check_buttons(page, page.main_frame)
            assert problems == [], label
            assert no_violations(page) == [], label
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#high-contrast").click()  # staff and automatic notices still differ
    page.screenshot(path=shots / "page-390-bigger-stronger-colours.png", full_page=True)
    assert page.evaluate(FIND_PROBLEMS) + check_buttons(page, page.main_frame) == []
    assert no_violations(page) == []
    print(f"screenshots in {shots}")


@pytest.mark.usefixtures("staff_in")  # a handoff that staff answer at once
def test_the_widget_on_a_hostile_page_at_every_size(
    page: Page, server: str, runtime: Runtime, shots: Path
) -> None:
    paragraphs = "".join(f"<p>City news item {k}: the harbour festival.</p>" for k in range(40))
    html = (
        "<!doctype html><html lang='en'><head><meta name='viewport' "
        "content='width=device-width, initial-scale=1'><title>City news</title>"
        f"<style>{HOSTILE_CSS}</style></head><body><header><p>Port Alder News</p></header>"
        f"<main><h1>City news</h1>{paragraphs}</main>"
        f"<script src='{server}/chat/widget.js'></script></body></html>"
    )
    with host_site(html) as news:
        page.goto(news)
        open_widget(page)
        chat = page.frame_locator("iframe[title='City helpline chat']")
        converse(chat, page, runtime)
        frame = page.frame(url=lambda url: url.startswith(f"{server}/chat"))
        assert frame is not None
        for name, width, height in VIEWPORTS:
            page.set_viewport_size({"width": width, "height": height})
            for bigger in (False, True):
                set_bigger_text(frame, bigger)
                label = f"widget-{name}-{'bigger' if bigger else 'normal'}"
                frame.locator("#send").scroll_into_view_if_needed()
                page.screenshot(path=shots / f"{label}.png")
                host_wide = page.evaluate("document.documentElement.scrollWidth")
                assert host_wide <= width, f"{label}: the host page scrolls sideways"
                panel = page.locator("#hotline-chat-panel").bounding_box()
                assert panel is not None
                assert panel["x"] >= 0 and panel["x"] + panel["width"] <= width + 0.5, label
                assert panel["y"] >= 0 and panel["y"] + panel["height"] <= height + 0.5, label
                problems = frame.evaluate(FIND_PROBLEMS) + check_buttons(page, frame)
                problems += check_buttons(page, page.main_frame)
                assert problems == [], label
                assert no_violations(page) == [], label
    print(f"screenshots in {shots}")
