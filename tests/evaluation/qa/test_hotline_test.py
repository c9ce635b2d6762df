"""`hotline test` end to end: the real assistant in process and over REST, reports on disk."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner

from bot.runtime import Runtime
from channels.app import create_app
from channels.cli import app as cli
from evaluation.qa import suite_run
from evaluation.qa.conversations import InProcessTarget, MovableClock, load_suite
from evaluation.qa.targets import RestTarget
from tests.conftest import ROOT

SUITE = ROOT / "tests" / "conversations"


def _console() -> Console:
    return Console(record=True, width=140)


def test_the_suite_passes_and_writes_junit_and_html(
    runtime: Runtime, clock: MovableClock, tmp_path: Path
) -> None:
    console = _console()
    junit, html = tmp_path / "junit.xml", tmp_path / "report.html"
    code = suite_run.run(
        [SUITE],
        junit=junit,
        html=html,
        workers=2,
        console=console,
        target=InProcessTarget(runtime, clock),
    )
    root = ET.parse(junit).getroot()
    cases = list(root.iter("testcase"))
    assert len(cases) == len(load_suite(SUITE))
    failures = {
        c.get("name"): c.findtext("failure") for c in cases if c.find("failure") is not None
    }
    assert sum(int(s.get("failures", "0")) for s in root.iter("testsuite")) == len(failures)
    assert "<html" in html.read_text()
    assert "playing 1 conversation at a time" in console.export_text()  # SQLite: one writer
    assert (code == 0) == (not failures)
    assert code == 0, "\n\n".join(f"{name}:\n{text}" for name, text in failures.items())


def test_a_wrong_expectation_fails_with_the_turn_shown(
    runtime: Runtime, clock: MovableClock, tmp_path: Path
) -> None:
    suite = tmp_path / "wrong.yml"
    suite.write_text(
        "conversations:\n"
        "  - name: wrong on purpose\n"
        "    steps:\n"
        "      - user: hello\n"
        "        expect: {intent: greet}\n"
        "      - user: thanks a lot\n"
        "        expect: {intent: report_problem, text_contains: 'no such words'}\n"
    )
    console = _console()
    junit, html = tmp_path / "junit.xml", tmp_path / "report.html"
    code = suite_run.run(
        [suite], junit=junit, html=html, console=console, target=InProcessTarget(runtime, clock)
    )
    assert code == suite_run.EXIT_FAILED
    terminal = console.export_text()
    assert "FAILED wrong:wrong on purpose" in terminal
    assert "step 2: sent 'thanks a lot'" in terminal
    assert "intent: expected report_problem, got thank" in terminal
    assert "0 passed, 1 failed, 0 skipped" in terminal
    failure = ET.parse(junit).getroot().find(".//failure")
    assert failure is not None and "step 2: sent 'thanks a lot'" in (failure.text or "")
    page = html.read_text()
    assert "Failing turn: step 2" in page
    assert "text does not contain &#39;no such words&#39;" in page
    # side by side: the expectation on the left, what the reply showed on the right
    expected, got = page.split("<th>expected</th><th>got</th>")[1].split("</td>")[:2]
    assert "intent: report_problem" in expected and "intent: thank" in got


def test_over_rest_unobservable_fields_and_clock_are_reported(
    runtime: Runtime, tmp_path: Path
) -> None:
    suite = tmp_path / "rest.yml"
    suite.write_text(
        "conversations:\n"
        "  - name: file over REST\n"
        "    steps:\n"
        "      - user: the street light on Oak Avenue has been dark for three nights\n"
        "      - user: '1'\n"
        "      - user: 'yes'\n"
        "        expect: {filed: {service_code: streetlight, district: Eastfield,\n"
        "                         street: Oak Avenue}, save: {ref: filed_reference}}\n"
        "      - user: what is the status of ${ref}\n"
        "        expect: {intent: check_status, text_contains: '${ref}'}\n"
        "  - name: needs the clock\n"
        "    steps:\n"
        "      - user: report a pothole\n"
        "      - advance: 45m\n"
        "      - user: 'yes'\n"
    )
    client = TestClient(create_app(runtime=runtime))
    console = _console()
    junit = tmp_path / "junit.xml"
    code = suite_run.run(
        [suite],
        junit=junit,
        console=console,
        target=RestTarget("http://testserver", client=client),
    )
    terminal = console.export_text()
    assert code == 0, terminal
    assert "1 passed, 0 failed, 1 skipped" in terminal
    assert "cannot be moved" in terminal
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert "filed street (not public over REST)" in (
        cases["file over REST"].findtext("system-out") or ""
    )
    assert cases["needs the clock"].find("skipped") is not None


def test_rest_target_reports_http_errors(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime=runtime))
    target = RestTarget("http://testserver", client=client)
    with pytest.raises(RuntimeError, match="HTTP 413"):
        target.send({"channel": "web", "sender": "x", "text": "a" * 100_000})
    assert target.filed("REQ-1999-000000") is None


def test_cli_refuses_unusable_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("conversations: [{name: x, steps: [{user: a, expect: {intnet: greet}}]}]")
    result = CliRunner().invoke(cli, ["test", str(bad)])
    assert result.exit_code == 2
    assert "unknown expectation ['intnet']" in result.output
    result = CliRunner().invoke(cli, ["test", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "no such file" in result.output


def test_hotline_test_url_plays_each_channel_with_an_integration_key(
    runtime: Runtime, tmp_path: Path
) -> None:
    """Against a real server: a key made with `hotline staff key` lets each conversation
    play on its own channel (the voice one hears "text me at this number"); without the key
    the server speaks for web sessions only, and says which."""
    import shutil

    from evaluation.benchmarks.server import hotline_server

    data_dir = tmp_path / "data"
    shutil.copytree(
        runtime.settings.data_dir, data_dir, ignore=shutil.ignore_patterns("*.db*", "secret_key")
    )
    env = {"HOTLINE_DATA_DIR": str(data_dir)}
    made = CliRunner().invoke(cli, ["staff", "key", "qa runner", "--channel", "voice"], env=env)
    assert made.exit_code == 0, made.output
    key = made.output.strip().splitlines()[-1]
    assert key.startswith("hik_")
    refused = CliRunner().invoke(cli, ["staff", "key", "web", "--channel", "web"], env=env)
    assert refused.exit_code == 1 and "web" in refused.output
    suite = tmp_path / "voice.yml"
    suite.write_text(
        "conversations:\n"
        "  - name: a caller is offered a text\n"
        "    channel: voice\n"
        "    steps:\n"
        "      - user: the street light on Oak Avenue has been dark for three nights\n"
        "        expect: {choices: Text me at this number}\n"
    )
    with hotline_server(env, log=tmp_path / "server.log", timeout=180) as url:
        keyed = CliRunner().invoke(
            cli, ["test", str(suite), "--url", url], env={**env, "HOTLINE_API_KEY": key}
        )
        assert keyed.exit_code == 0, keyed.output
        assert "1 passed" in keyed.output
        plain = CliRunner().invoke(
            cli, ["test", str(suite), "--url", url], env={**env, "HOTLINE_API_KEY": ""}
        )
        assert plain.exit_code == 1  # played as a web session: no "text me" choice
        wrong = CliRunner().invoke(
            cli, ["test", str(suite), "--url", url, "--api-key", key + "x"], env=env
        )
        assert wrong.exit_code == 1 and "401" in wrong.output
