"""`hotline dispatch` as real processes: killed mid-delivery, and two side by side on PostgreSQL."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.storage.db import Database
from bot.storage.models import OutboxMessage
from evaluation.benchmarks.server import stop_process
from tests.databases import NEEDS_POSTGRES

from .support import FakeBackOffice, dispatcher_process, file_requests, wait_for


def worker_env(db_url: str, fake: FakeBackOffice) -> dict[str, str]:
    return {
        "HOTLINE_DATABASE_URL": db_url,
        "HOTLINE_BACKOFFICE": "open311",
        "HOTLINE_OPEN311_URL": fake.url,
        "HOTLINE_OPEN311_API_KEY": fake.api_key,
        "HOTLINE_BACKOFFICE_TIMEOUT": "2",
        "HOTLINE_DISPATCH_LEASE": "6",
        "HOTLINE_DISPATCH_INTERVAL": "0.1",
        "HOTLINE_DISPATCH_BASE_DELAY": "0.1",
    }


def statuses(db: Database) -> list[str]:
    with db.sessions() as session:
        return list(session.scalars(select(OutboxMessage.status)))


def test_dispatcher_killed_mid_delivery_loses_nothing(
    db: Database, db_url: str, fake: FakeBackOffice, tmp_path: Path
) -> None:
    file_requests(db, 3)
    fake.faults = ["hang"]  # the first POST reaches the back office, then never answers
    env, log = worker_env(db_url, fake), tmp_path / "dispatch.log"
    first = dispatcher_process(env, log)
    try:
        wait_for(lambda: sum(fake.posts.values()) >= 1, 30, "the first POST")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop_process(first)
    assert statuses(db).count("pending") >= 1  # the row in flight was not settled
    fake.hold.set()
    second = dispatcher_process(env, log)
    try:
        wait_for(lambda: statuses(db) == ["delivered"] * 3, 40, "every row delivered")
    finally:
        stop_process(second)
    assert len(fake.records) == 3  # each request arrived exactly once
    # the interrupted one (and any others in flight when it died) were sent again
    assert 2 in fake.posts.values() and set(fake.posts.values()) <= {1, 2}


@pytest.mark.postgres
@NEEDS_POSTGRES
def test_two_dispatchers_on_postgres_never_send_a_row_twice(
    db: Database, db_url: str, fake: FakeBackOffice, tmp_path: Path
) -> None:
    if db.is_sqlite:
        pytest.skip("on SQLite one dispatcher works at a time (see the lease tests)")
    file_requests(db, 80)
    fake.post_delay = 0.01
    env = worker_env(db_url, fake)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    workers = [dispatcher_process(env, log) for log in logs]
    try:
        wait_for(lambda: statuses(db) == ["delivered"] * 80, 60, "every row delivered")
    finally:
        for worker in workers:
            stop_process(worker)
    assert len(fake.records) == 80
    assert set(fake.posts.values()) == {1}  # no row sent twice
    shares = [log.read_text().count("delivered to open311") for log in logs]
    assert sum(shares) == 80 and all(shares), shares  # both did part of the work
