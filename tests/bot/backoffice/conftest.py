"""Back-office fixtures: a fresh database per module on SQLite and on PostgreSQL, a fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from bot.storage.db import Database
from tests.databases import BACKENDS, fresh_database_url

from .support import FakeBackOffice


@pytest.fixture(scope="module", params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with fresh_database_url(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def fake() -> Iterator[FakeBackOffice]:
    office = FakeBackOffice().start()
    yield office
    office.hold.set()
    office.stop()


@pytest.fixture(autouse=True)
def _empty(db: Database) -> None:
    """Each test starts with no requests, outbox rows or leases (the module shares a database)."""
    with db.transaction() as session:
        for table in (
            "open311_posts",
            "notices",
            "request_events",
            "outbox",
            "service_requests",
            "dispatcher_leases",
        ):
            session.execute(text(f"DELETE FROM {table}"))
