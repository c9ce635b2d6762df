"""The database handle: engine, sessions and migrations for SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
IMMEDIATE = "hotline_sqlite_immediate"
WRITER_WAIT_SECONDS = 30


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL is safe against an app crash and skips an fsync per commit; a power
    # cut may lose the last few turns, never corrupt the file.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, see _sqlite_begin


def _sqlite_begin(connection: Connection) -> None:
    """A write transaction takes SQLite's write lock at BEGIN (IMMEDIATE), where busy_timeout
    makes it wait its turn. A deferred one that reads first and writes later fails at once
    with "database is locked" when another writer committed in between."""
    immediate = connection.get_execution_options().get(IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """One engine and session factory; every piece of state lives behind it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = make_url(url).database or ":memory:"
            if path != ":memory:" and not path.startswith("file:"):  # a URI names an existing file
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(url, connect_args={"check_same_thread": False})
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        self.sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = threading.Lock()

    def migrate(self) -> None:
        """Bring the schema to the newest migration (safe to call on every start).

        Under a lock of its own: every command migrates (serve, dispatch, staff add...), and
        two starting together on an empty database would both create ``alembic_version``.
        One head only: two branches of migrations fail here rather than in production.
        """
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.exclusive("hotline:migrate"), self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Only one process at a time in here (first start of several instances at once).

        PostgreSQL: a session advisory lock. SQLite: nothing to do, its writers queue anyway.
        """
        if self.is_sqlite:
            yield
            return
        key = zlib.crc32(name.encode())
        with self.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits together or not at all.

        On SQLite the threads of this process queue for the one write lock here, before they
        take a pooled connection: threads holding connections while they wait for the lock
        would leave none for the writer's own reads, and all would wait out busy_timeout.
        """
        if not self.is_sqlite:
            with self.sessions() as session, session.begin():
                yield session
            return
        if not self._writer.acquire(timeout=WRITER_WAIT_SECONDS):
            raise TimeoutError(f"no turn at the SQLite write lock in {WRITER_WAIT_SECONDS} s")
        try:
            with self.sessions() as session, session.begin():
                session.connection(execution_options={IMMEDIATE: True})
                yield session
        finally:
            self._writer.release()

    def prove_write(self, name: str) -> None:
        """Commit a small write (raises if the database refuses writes: full, read-only)."""
        from bot.storage.models import HealthProbe, utcnow

        with self.transaction() as session:
            probe = session.get(HealthProbe, name[:64])
            if probe is None:
                session.add(HealthProbe(name=name[:64], written_at=utcnow()))
            else:
                probe.written_at = utcnow()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True
