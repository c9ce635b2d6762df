"""The database handle: write transactions queue on SQLite instead of failing or losing work."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.storage.db import Database
from tests.databases import NEEDS_POSTGRES, POSTGRES_URL


def in_threads(count: int, work: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def counter_db(path: Path) -> Database:
    db = Database(f"sqlite:///{path}")
    with db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        connection.execute(text("INSERT INTO counter VALUES (1, 0)"))
    return db


def counted(db: Database) -> int:
    with db.sessions() as session:
        return session.execute(text("SELECT n FROM counter")).scalar_one()


def test_concurrent_read_then_write_transactions_neither_fail_nor_lose_updates(
    tmp_path: Path,
) -> None:
    db = counter_db(tmp_path / "counter.db")
    errors: list[Exception] = []

    def increment(times: int) -> None:
        for _ in range(times):
            try:
                with db.transaction() as session:
                    n = session.execute(text("SELECT n FROM counter")).scalar_one()
                    time.sleep(0.001)  # another thread's turn comes in between
                    session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
            except Exception as error:
                errors.append(error)

    in_threads(6, lambda _: increment(40))

    assert errors == []
    assert counted(db) == 240


def test_a_read_does_not_take_the_write_lock(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'read.db'}")
    with db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
    with db.sessions() as reader, db.transaction() as writer:
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
        writer.execute(text("INSERT INTO t VALUES (1)"))


@NEEDS_POSTGRES
def test_exclusive_lets_one_process_in_at_a_time_on_postgresql() -> None:
    assert POSTGRES_URL
    db = Database(POSTGRES_URL)
    inside: list[int] = []
    overlaps: list[int] = []

    def enter(i: int) -> None:
        with db.exclusive("hotline:test-exclusive"):
            if inside:
                overlaps.append(i)
            inside.append(i)
            time.sleep(0.05)
            inside.remove(i)

    in_threads(4, enter)
    assert overlaps == []


@pytest.mark.timeout(120)
def test_more_writers_than_pooled_connections_each_reading_on_the_side(tmp_path: Path) -> None:
    """A turn reads articles through a second session while it holds the write lock; twenty
    at once must not starve the pool (the writer would wait for a connection that threads
    queueing for the lock hold)."""
    db = counter_db(tmp_path / "pool.db")
    errors: list[Exception] = []

    def turn() -> None:
        try:
            with db.transaction() as session:
                session.execute(text("UPDATE counter SET n = n + 1"))
                with db.sessions() as reader:  # as KnowledgeService.get does
                    reader.execute(text("SELECT n FROM counter")).scalar_one()
                time.sleep(0.005)
        except Exception as error:
            errors.append(error)

    in_threads(20, lambda _: turn())

    assert errors == []
    assert counted(db) == 20


@NEEDS_POSTGRES
@pytest.mark.postgres
def test_commands_started_together_on_an_empty_database_migrate_once() -> None:
    """`hotline serve` and `hotline dispatch` (each migrating) started at the same moment."""
    assert POSTGRES_URL
    name = f"hotline_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    databases = [Database(url) for _ in range(4)]
    start = threading.Barrier(len(databases))
    errors: list[BaseException] = []

    def migrate(database: Database) -> None:
        start.wait()
        try:
            database.migrate()
        except BaseException as exc:
            errors.append(exc)

    try:
        threads = [threading.Thread(target=migrate, args=(d,)) for d in databases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert errors == []
        with databases[0].sessions() as session:
            assert session.scalar(text("SELECT count(*) FROM alembic_version")) == 1
    finally:
        for database in databases:
            database.engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
