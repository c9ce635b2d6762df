"""A migrated database of its own for the staff core (no model, no index: fast)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.storage.db import Database


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Database:
    path: Path = tmp_path_factory.mktemp("staffdb") / "hotline.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    return database
