"""`hotline` reads well: help in words for every command, a chat that greets and wraps."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot import replies
from bot.runtime import Runtime
from channels.cli import app, wrapped
from tests.channels.channel_helpers import app_for, serve

# What Typer would print beside a parameter: its Python annotation in angle brackets.
TYPE_NAME = re.compile(r"<(?:bool|str|int|float|path|file|list\[[^\]]*\]|[A-Za-z]+\|?)[^>]*>")


def commands(command: typer.core.TyperGroup, path: list[str]) -> Iterator[list[str]]:
    """Every command and group below ``command``, as the words that name it."""
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from commands(sub, [*path, name])


def test_every_help_page_is_in_words() -> None:
    runner = CliRunner()
    paths = list(commands(typer.main.get_command(app), []))
    assert ["kb", "import"] in paths and ["call"] in paths and ["outbox", "retry"] in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], terminal_width=100)
        assert result.exit_code == 0, (path, result.output)
        shown = result.output
        assert "Show this message and exit." in shown
        assert not TYPE_NAME.search(shown), (path, TYPE_NAME.search(shown), shown)
        assert "[default: no-" not in shown and "[default: force]" not in shown, (path, shown)
    top = runner.invoke(app, ["--help"], terminal_width=100).output
    for panel in ("Run the service", "Try it", "Staff and content", "Quality assurance"):
        assert panel in top
    import_rasa = runner.invoke(app, ["import-rasa", "--help"], terminal_width=100).output
    assert "THEIRS=OURS" in import_rasa and "PATH" in import_rasa


def test_type_names_would_be_caught() -> None:
    """The pattern above matches what Typer prints without our labels."""
    for leaked in ("--help <bool>", "--map <list[str]>", "--out <path>", "--port <int>"):
        assert TYPE_NAME.search(leaked), leaked
    for fine in ("--map THEIRS=OURS", "--out PATH", "--port NUMBER", "[default: 8000]"):
        assert not TYPE_NAME.search(fine), fine


def test_wrapped_at_the_width_between_words() -> None:
    text = "Which one did you mean? Both are near the harbour.\n  1. A pothole in the road\n  2. x"
    lines = wrapped("bot", text, width=30).splitlines()
    assert lines[0].startswith("bot> Which one")
    assert all(len(line) < 30 for line in lines), lines
    assert all(line.startswith("     ") for line in lines[1:])
    words = " ".join(line.strip() for line in lines).replace("bot> ", "")
    assert words.split() == text.split()  # nothing lost, no word cut
    assert any(line.startswith("       1. A pothole") for line in lines)


@pytest.fixture(scope="module")
def server(runtime: Runtime) -> Iterator[str]:
    with serve(app_for(runtime)) as url:
        yield url


def test_chat_greets_and_wraps_replies(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "48")
    result = CliRunner().invoke(
        app, ["chat", "--url", server], input="what are the library opening hours\n\n"
    )
    assert result.exit_code == 0, result.output
    lines = [line.removeprefix("you> ") for line in result.output.splitlines()]  # no echo
    greeting = " ".join(line.strip() for line in lines if not line.startswith("(An empty"))
    assert greeting.startswith("bot> " + replies.GREETING)
    assert all(len(line) < 48 for line in lines), [line for line in lines if len(line) >= 48]
    assert result.output.count("bot> ") == 2  # the greeting and the answer


def test_staff_add_says_where_it_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.delenv("HOTLINE_DATABASE_URL", raising=False)
    monkeypatch.setenv("HOTLINE_STAFF_PASSWORD", "a good long password")
    result = CliRunner().invoke(app, ["staff", "add", "Robin"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "elsewhere"
    where = f"using the data folder {folder}, database sqlite:///{folder}/hotline.db"
    assert where in result.output
