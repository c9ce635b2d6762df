"""The sign-in throttle's counters on SQLite and PostgreSQL: free tries, doubling waits up to
a cap, success taken back, quiet keys forgotten, and parallel attempts counted."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from bot.staff import throttle
from bot.storage.db import Database

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def attempt() -> throttle.Attempt:
    return throttle.Attempt(account=uuid.uuid4().hex, address=uuid.uuid4().hex)


def begin(db: Database, who: throttle.Attempt, now: datetime) -> int:
    with db.transaction() as session:
        return throttle.begin(session, who, now)


def test_free_tries_then_doubling_waits_up_to_the_cap(db: Database) -> None:
    db.migrate()
    who, now = attempt(), START
    assert [begin(db, who, now) for _ in range(throttle.PAIR.free)] == [0] * throttle.PAIR.free
    waits = []
    for _ in range(14):
        wait = begin(db, who, now)  # refused: not counted
        assert wait > 0 and begin(db, who, now) == wait
        waits.append(wait)
        now += timedelta(seconds=wait)
        assert begin(db, who, now) == 0  # after the wait, one more try is counted
    assert waits[:5] == [1, 2, 4, 8, 16]
    assert max(waits) == waits[-1] == 15 * 60  # the cap: slowed, never locked


def test_success_takes_the_attempt_back_and_quiet_keys_are_forgotten(db: Database) -> None:
    db.migrate()
    who = attempt()
    for _ in range(throttle.PAIR.free):
        assert begin(db, who, START) == 0
    assert begin(db, who, START) == 1
    with db.transaction() as session:
        throttle.succeeded(session, who)
    assert begin(db, who, START) == 0  # the account's counters went with the success
    later = START + throttle.FORGET_AFTER + timedelta(seconds=1)
    other = attempt()
    for _ in range(throttle.ADDRESS.free):
        assert begin(db, throttle.Attempt(uuid.uuid4().hex, other.address), START) == 0
    assert begin(db, other, START) == 1  # the address has used its free tries
    assert begin(db, other, later) == 0  # an hour of quiet: forgotten


def test_parallel_attempts_are_all_counted(db: Database) -> None:
    db.migrate()
    who = attempt()
    with ThreadPoolExecutor(4) as pool:
        waits = list(pool.map(lambda _: begin(db, who, START), range(20)))
    assert waits.count(0) == throttle.PAIR.free  # no more guesses than the free ones
