"""`hotline import-rasa`: the example project converts, and its test stories pass against an
assistant trained on its NLU data; the real helpdesk project reports what did not map."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from bot.nlu.training_data import load_training_data
from bot.runtime import Runtime, build_runtime
from channels.cli import app as cli
from evaluation.benchmarks.datasets import dataset
from evaluation.qa import suite_run
from evaluation.qa.conversations import InProcessTarget, MovableClock, load_suite
from evaluation.qa.rasa_import import PLACEHOLDER_URL, RasaProjectError, import_project
from evaluation.qa.rasa_stories import load_action_map
from evaluation.qa.targets import scratch_copy

PROJECT = Path(__file__).with_name("rasa_project")
ACTIONS = PROJECT / "action_map.yml"
HELPDESK = dataset("rasa_helpdesk_assistant")


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("imported")
    result = CliRunner().invoke(
        cli, ["import-rasa", str(PROJECT), str(out), "--action-map", str(ACTIONS)]
    )
    assert result.exit_code == 0, result.output
    return out


def test_nlu_articles_responses_and_report(imported: Path) -> None:
    data = load_training_data(imported / "nlu.yml")
    assert set(data.intents) == {
        "greet",
        "thank",
        "report_problem",
        "check_status",
        "talk_to_human",
        "ask_question",
    }
    assert data.synonyms["lamp post"] == "streetlight"
    roles = [a.role for e in data.examples for a in e.entities if a.role]
    assert roles == ["hazard"]  # roles and groups are kept: the tagger learns them
    assert "pothole" in data.lookups["service_type"]
    articles = {
        a["slug"]: a for a in yaml.safe_load((imported / "articles.yml").read_text())["articles"]
    }
    assert set(articles) == {"council-tax", "parking-permit"}
    assert articles["council-tax"]["status"] == "draft"
    assert articles["council-tax"]["source_url"] == PLACEHOLDER_URL
    assert "how do I pay council tax" in articles["council-tax"]["questions"]
    responses = yaml.safe_load((imported / "responses.yml").read_text())["responses"]
    assert responses["utter_greet"] == ["Hello! This is the Port Alder city hotline."]
    report = yaml.safe_load((imported / "import-report.yml").read_text())
    assert report["errors"] == []
    not_mapped = "\n".join(report["not_mapped"])
    for expected in (
        "rule 'greet'",
        "domain form report_form",
        "domain action action_file_report",
        "response utter_ask_street: buttons",
        "retrieval intent faq/dog_licence",
        "test story 'greet and thank' step 2: action utter_greet",
        "test story 'training-only story shape': no user turn to play",
    ):
        assert expected in not_mapped


@pytest.fixture(scope="module")
def trained_on_project(runtime: Runtime, imported: Path) -> Runtime:
    """The demo assistant retrained with the project's NLU data (index and KB copied over)."""
    data_dir = scratch_copy(runtime.settings.data_dir)
    settings = runtime.settings.model_copy(
        update={"data_dir": data_dir, "nlu_data": [imported / "nlu.yml"]}
    )
    settings.__dict__.pop("db_url", None)
    return build_runtime(settings, clock=MovableClock())


def test_its_test_stories_pass(trained_on_project: Runtime, imported: Path) -> None:
    target = InProcessTarget(trained_on_project, MovableClock())
    console = Console(record=True, width=140)
    converted = suite_run.run([imported / "conversations"], console=console, target=target)
    assert converted == 0, console.export_text()
    assert "6 passed, 0 failed, 0 skipped" in console.export_text()
    # the original Rasa file runs the same, skipping the story with nothing to send
    console = Console(record=True, width=140)
    original = suite_run.run(
        [PROJECT / "tests"], console=console, target=target, action_map=ACTIONS
    )
    text = console.export_text()
    assert original == 0, text
    assert "6 passed, 0 failed, 1 skipped" in text
    assert "Rasa steps not mapped" in text


def test_the_real_helpdesk_project_reports_what_did_not_map(tmp_path: Path) -> None:
    if not HELPDESK.is_dir():
        pytest.skip(f"{HELPDESK} is not here")
    report = import_project(HELPDESK, tmp_path)
    assert report.errors == []
    assert report.counts["intents"] >= 10 and report.counts["conversations"] >= 5
    assert report.counts["loaded_examples"] == report.counts["examples"]
    not_mapped = "\n".join(report.not_mapped)
    assert "domain form open_incident_form" in not_mapped
    assert "domain action action_open_incident" in not_mapped
    assert "active_loop" in not_mapped
    assert "test story 'Test fallback': no user turn to play" in not_mapped
    suite = load_suite(tmp_path / "conversations")
    assert all(step.get("user") for c in suite for step in c.steps)
    assert load_suite(HELPDESK / "tests", action_map=load_action_map(None))


def test_not_a_project(tmp_path: Path) -> None:
    with pytest.raises(RasaProjectError, match="no NLU data"):
        import_project(tmp_path, tmp_path / "out")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nlu.yml").write_text("nlu: [")
    with pytest.raises(RasaProjectError, match="not valid YAML"):
        import_project(tmp_path, tmp_path / "out")
    result = CliRunner().invoke(cli, ["import-rasa", str(tmp_path / "nope"), str(tmp_path)])
    assert result.exit_code == 2 and "not a directory" in result.output
