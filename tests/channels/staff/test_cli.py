"""`hotline staff add` and the first-run hint of `hotline serve` (database only, no model)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.settings import Settings
from bot.staff import accounts
from bot.storage.db import Database
from channels.cli import app
from channels.staff.commands import first_admin_hint


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HOTLINE_DATABASE_URL", raising=False)
    return tmp_path


def test_staff_add_and_first_admin_hint(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None, data_dir=data_dir)
    hint = first_admin_hint(settings, "http://127.0.0.1:8000")
    assert hint and "hotline staff add NAME --role admin" in hint

    runner = CliRunner()
    monkeypatch.setenv("HOTLINE_STAFF_PASSWORD", "a good long password")
    result = runner.invoke(app, ["staff", "add", "Robin", "--role", "admin"])
    assert result.exit_code == 0, result.output
    assert "created the admin account robin" in result.output
    assert first_admin_hint(settings, "http://127.0.0.1:8000") is None

    again = runner.invoke(app, ["staff", "add", "robin", "--role", "editor"])
    assert again.exit_code == 1 and "already" in again.output
    bad_role = runner.invoke(app, ["staff", "add", "kim", "--role", "boss"])
    assert bad_role.exit_code == 1 and "unknown role" in bad_role.output

    monkeypatch.delenv("HOTLINE_STAFF_PASSWORD")
    typed = "another long one\nanother long one\n"  # asked twice, hidden
    asked = runner.invoke(app, ["staff", "add", "kim", "--role", "agent"], input=typed)
    assert asked.exit_code == 0, asked.output
    least = runner.invoke(app, ["staff", "add", "jo.west"], input=typed)  # no role named
    assert least.exit_code == 0 and "created the qa account jo.west" in least.output
    assert f"using the data folder {data_dir.resolve()}" in least.output
    short = runner.invoke(app, ["staff", "add", "lee"], input="short\nshort\n")
    assert short.exit_code == 1 and "at least 10" in short.output
    for weak, reason in (
        ("lee.harbour", "not be the staff name"),
        ("aaaaaaaaaaaa", "too easy to guess"),
        ("password1234", "common password"),
    ):
        refused = runner.invoke(app, ["staff", "add", "lee.harbour"], input=f"{weak}\n{weak}\n")
        assert refused.exit_code == 1 and reason in refused.output, refused.output

    database = Database(settings.db_url)
    with database.transaction() as session:
        assert accounts.authenticate(session, "kim", "another long one").role == "agent"
        assert accounts.find(session, "jo.west").role == "qa"
        assert accounts.find(session, "lee") is None
        assert accounts.find(session, "lee.harbour") is None
    database.engine.dispose()
