"""A fresh migrated database per module, on SQLite and on PostgreSQL (no model: fast)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.storage.db import Database
from tests.databases import BACKENDS, fresh_database_url


@pytest.fixture(scope="module", params=BACKENDS)
def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    with fresh_database_url(request.param, tmp_path_factory.mktemp("staffdb")) as url:
        database = Database(url)
        yield database
        database.engine.dispose()
