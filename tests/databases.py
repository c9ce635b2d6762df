"""Test databases: a fresh migrated one per use, on SQLite and, when CI provides it, PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.storage.db import Database

POSTGRES_URL = os.environ.get("HOTLINE_TEST_POSTGRES_URL")
NEEDS_POSTGRES = pytest.mark.skipif(not POSTGRES_URL, reason="HOTLINE_TEST_POSTGRES_URL is not set")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres, NEEDS_POSTGRES])]


@contextmanager
def fresh_database_url(kind: str, directory: Path) -> Iterator[str]:
    """A new, migrated database: a SQLite file, or a PostgreSQL database of its own."""
    if kind == "sqlite":
        url = f"sqlite:///{directory / f'hotline-{uuid.uuid4().hex[:8]}.db'}"
        Database(url).migrate()
        yield url
        return
    assert POSTGRES_URL, "HOTLINE_TEST_POSTGRES_URL is not set"
    name = f"hotline_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        database = Database(url)
        database.migrate()
        database.engine.dispose()
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
