"""The table modules import one way: the core's tables load none of the others."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from bot.storage.db import Database
from bot.storage.tables import METADATA
from tests.conftest import ROOT

LEAVES = [
    "bot.staff.models",
    "bot.backoffice.models",
    "bot.integrations",
    "bot.storage.channel_state",
]


def loaded_with(module: str) -> set[str]:
    """Which of LEAVES a fresh interpreter has loaded after importing only ``module``."""
    probe = f"import sys, {module}; print(' '.join(m for m in {LEAVES!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(done.stdout.split())


def test_the_core_tables_import_no_other_table_module() -> None:
    assert loaded_with("bot.storage.models") == set()
    assert loaded_with("bot.storage.base") == set()
    assert loaded_with("bot.storage.tables") == set(LEAVES)  # the probe sees what is there


def test_the_gathered_tables_are_what_the_migrations_make(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'hotline.db'}")
    db.migrate()
    made = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
    gathered = {name for metadata in METADATA for name in metadata.tables}
    db.engine.dispose()
    assert made == gathered
