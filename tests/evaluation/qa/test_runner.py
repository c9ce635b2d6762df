"""The runner and its reports on a scripted target: parallel play, skips, unchecked fields,
JUnit XML parsed back, the HTML side by side. (The real assistant: test_cli_test.py.)"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from bot.contract import Choice, EntityOut, OutboundMessage, Reply
from evaluation.qa import reports
from evaluation.qa.conversations import SuiteError, Unsupported, load_suite, run_suite


class Scripted:
    """Echoes the text; files REQ-1 on "yes"; hides what a REST server would hide."""

    filed_fields = frozenset({"service_code", "status"})

    def __init__(self, clock_moves: bool = True) -> None:
        self.clock_moves = clock_moves
        self.senders: set[str] = set()
        self.threads: set[int] = set()
        self.lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> Reply:
        with self.lock:
            self.senders.add(message["sender"])
            self.threads.add(threading.get_ident())
        text = str(message.get("text") or message.get("dtmf"))
        return Reply(
            messages=[
                OutboundMessage(
                    text=f"you said {text}", choices=[Choice(title="Yes", payload="/y")]
                )
            ],
            intent="greet" if text == "hello" else "other",
            entities=[EntityOut(entity="word", value=text.split()[0], text=text)],
            filed_reference="REQ-1" if text == "yes" else None,
        )

    def filed(self, reference: str) -> dict[str, Any] | None:
        return {"service_code": "pothole", "status": "submitted"} if reference == "REQ-1" else None

    def advance(self, by: timedelta) -> None:
        if not self.clock_moves:
            raise Unsupported("no clock here")


SUITE = """
conversations:
  - name: passes
    steps:
      - user: hello
        expect: {intent: greet, text_contains: "said hello", choices: ["Yes"],
                 entities: {word: hello}}
      - user: "yes"
        expect: {filed: {service_code: pothole, street: Elm Street}, save: {ref: filed_reference}}
      - user: status of ${ref}
        expect: {text_contains: "REQ-1"}
  - name: fails on the second turn
    steps:
      - user: hello
      - user: report something
        expect: {intent: report_problem, text_matches: "^nothing$"}
      - user: played on all the same
        expect: {intent: greet}
  - name: moves the clock
    steps:
      - user: hello
      - advance: 45m
      - user: hello
        expect: {intent: greet}
  - name: two residents
    steps:
      - user: first
      - fresh_sender: true
      - user: second
"""


@pytest.fixture
def suite_file(tmp_path: Path) -> Path:
    path = tmp_path / "suite.yml"
    path.write_text(SUITE)
    return path


def test_results_junit_and_html(suite_file: Path, tmp_path: Path) -> None:
    target = Scripted(clock_moves=False)
    results = run_suite(load_suite(suite_file), target, workers=4)
    assert [r.status for r in results] == ["passed", "failed", "skipped", "passed"]
    assert results[0].steps[1].unchecked == ["filed street (not public over REST)"]
    failed = results[1].failed_step
    assert failed is not None and failed.index == 2 and len(results[1].steps) == 3
    assert failed.failures == [
        "intent: expected report_problem, got other",
        "text does not match /^nothing$/",
    ]
    # Played to the end, as Rasa's test does: every failing turn is reported.
    assert [s.index for s in results[1].failed_steps] == [2, 3]
    assert "step 3: sent 'played on all the same'" in reports.failure_text(results[1])
    assert results[2].skipped == "step 2: no clock here"
    assert len(target.senders) == 5  # a fresh sender per conversation, plus fresh_sender

    junit = tmp_path / "out" / "junit.xml"
    reports.write_junit(results, junit, "scripted")
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    failure = cases["fails on the second turn"].find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "intent: expected report_problem, got other (and 1 more failing turn(s))"
    )
    assert "step 2: sent 'report something'" in (failure.text or "")
    assert cases["moves the clock"].find("skipped") is not None
    assert "unchecked filed street" in (cases["passes"].findtext("system-out") or "")

    page = tmp_path / "report.html"
    reports.write_html(results, page, "scripted <target>")
    html = page.read_text()
    assert "scripted &lt;target&gt;" in html  # escaped
    assert "Failing turn: step 2" in html
    assert "expected</th><th>got" in html
    assert "intent: report_problem" in html and "intent: other" in html


def test_parallel_threads_and_clock_movers_run_alone(suite_file: Path) -> None:
    target = Scripted()
    results = run_suite(load_suite(suite_file) * 4, target, workers=4)
    assert len(results) == 16 and sum(r.status == "passed" for r in results) == 12
    assert len(target.threads) > 1


def test_summary_prints_failure_and_counts(suite_file: Path) -> None:
    from rich.console import Console

    console = Console(record=True, width=120)
    reports.print_summary(run_suite(load_suite(suite_file), Scripted()), console)
    text = console.export_text()
    assert "FAILED suite:fails on the second turn" in text
    assert "3 passed, 1 failed, 0 skipped" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("conversations: [", "not valid YAML"),
        ("hello: 1", "top-level 'conversations:'"),
        ("conversations: [{name: x}]", "needs a 'name' and a list"),
        ("conversations: [{name: x, steps: [{user: a, dtmf: '1'}]}]", "exactly one of"),
        ("conversations: [{name: x, steps: [{usr: a}]}]", "unknown key"),
        ("conversations: [{name: x, steps: [{user: a, expect: {intnet: b}}]}]", "unknown expect"),
        ("conversations: [{name: x, steps: [{advance: soon}]}]", "bad duration"),
        ("conversations: [{name: x, steps: [{advance: 1m, expect: {intent: a}}]}]", "cannot exp"),
        ("conversations: [{name: x, steps: [{user: a, expect: {text_matches: '('}}]}]", "regex"),
    ],
)
def test_bad_files_say_where(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(content)
    with pytest.raises(SuiteError, match=message):
        load_suite(path)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="no such file"):
        load_suite(tmp_path / "nope.yml")
