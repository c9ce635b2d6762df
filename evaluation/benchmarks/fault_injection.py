"""Fault injection for the outbox: what is filed, delivered, lost and duplicated when the
back office or our own dispatcher misbehaves, and how long recovery takes. Not a test: it
prints a table (one run per scenario) for docs/benchmarks.md.

Scenarios (requests filed as the assistant files them, delivered by real ``hotline dispatch``
processes or an in-process dispatcher, to the fake back office over HTTP):

- ``office-down``: the back office is down while requests are filed, then comes back.
- ``office-slow-ignoring-keys``: every first POST answers after our timeout, and the office
  ignores Idempotency-Key (only a look-up before re-sending keeps it from filing twice).
- ``token-lookups-failing``: POSTs answer a token whose look-ups fail 5 times.
- ``dispatcher-kill-9``: a dispatcher process killed with SIGKILL mid-delivery, another
  started in its place.
- ``dispatcher-sigterm-restart``: a dispatcher stopped cleanly and started again; a request
  filed at once (its lease must not hold the new process back).
- ``two-dispatchers`` (PostgreSQL only): two processes share one outbox.

Duplicated = records the back office holds beyond one per request; lost = requests it never
received; recovery = from the fault's end until every row is delivered.

    PYTHONPATH=. .venv/bin/python -m evaluation.benchmarks.fault_injection \
        [--postgres URL] [--requests N]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bot import service_requests
from bot.backoffice.dispatcher import Dispatcher, RetryPolicy
from bot.backoffice.open311_client import Open311Connector
from bot.storage.db import Database
from bot.storage.models import OutboxMessage, ServiceRequest
from evaluation.benchmarks.backoffice_fake import FakeBackOffice
from evaluation.benchmarks.server import stop_process

ROOT = Path(__file__).resolve().parents[2]
FAST = RetryPolicy(max_attempts=20, base_delay=0.1, max_delay=1.0)


@dataclass
class Outcome:
    scenario: str
    filed: int
    delivered: int
    lost: int
    duplicated: int
    recovery_s: float

    def row(self) -> str:
        return (
            f"| {self.scenario} | {self.filed} | {self.delivered} | {self.lost} | "
            f"{self.duplicated} | {self.recovery_s:.1f} |"
        )


# -- parts ----------------------------------------------------------------------------------
@contextmanager
def database(postgres: str | None, folder: Path) -> Iterator[str]:
    """A fresh, migrated database URL: SQLite in ``folder``, or a new PostgreSQL database."""
    if postgres is None:
        url = f"sqlite:///{folder / f'faults-{time.monotonic_ns()}.db'}"
        Database(url).migrate()
        yield url
        return
    name = f"hotline_faults_{time.monotonic_ns()}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres).set(database=name).render_as_string(hide_password=False)
    try:
        Database(url).migrate()
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def file_requests(db: Database, count: int, tag: str) -> None:
    for i in range(count):
        with db.transaction() as session:
            service_requests.file_request(
                session,
                ServiceRequest(
                    service_code="pothole",
                    description=f"{tag}: hole number {i}",
                    address=f"{i + 1} Elm Street",
                    lat=47.61,
                    lon=-122.33,
                    channel="web",
                    reply_address=f"resident-{i}",
                ),
                "fault-injection",
            )


def statuses(db: Database) -> list[str]:
    with db.sessions() as session:
        return list(session.scalars(select(OutboxMessage.status)))


def wait_delivered(db: Database, count: int, timeout: float) -> float:
    """Seconds until ``count`` rows are delivered (or the timeout, whichever first)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if statuses(db).count("delivered") >= count:
            break
        time.sleep(0.05)
    return time.monotonic() - started


def outcome(scenario: str, db: Database, office: FakeBackOffice, filed: int, recovery: float):
    descriptions = [r.form.get("description", "") for r in office.records.values()]
    distinct = len(set(descriptions))
    return Outcome(
        scenario,
        filed,
        statuses(db).count("delivered"),
        filed - distinct,
        len(descriptions) - distinct,
        recovery,
    )


def worker_env(db_url: str, office: FakeBackOffice) -> dict[str, str]:
    return {
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "HOTLINE_DATABASE_URL": db_url,
        "HOTLINE_BACKOFFICE": "open311",
        "HOTLINE_OPEN311_URL": office.url,
        "HOTLINE_OPEN311_API_KEY": office.api_key,
        "HOTLINE_BACKOFFICE_TIMEOUT": "2",
        "HOTLINE_DISPATCH_LEASE": "6",
        "HOTLINE_DISPATCH_INTERVAL": "0.1",
        "HOTLINE_DISPATCH_BASE_DELAY": "0.2",
    }


def dispatcher(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`hotline dispatch` from this checkout, as a process of its own."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", "from channels.cli import app; app()", "dispatch"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_started(log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and " started (back office" in log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise TimeoutError(f"the dispatcher did not start; see {log}")


def in_process(db: Database, office: FakeBackOffice, timeout: float) -> Callable[[], None]:
    """A dispatcher thread in this process; returns its stop."""
    connector = Open311Connector(office.url, api_key=office.api_key, timeout=timeout)
    stop = threading.Event()
    thread = threading.Thread(
        target=Dispatcher(db, connector, policy=FAST).run_forever,
        args=(stop,),
        kwargs={"interval": 0.05},
        daemon=True,
    )
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(10)
        connector.close()

    return halt


# -- scenarios ------------------------------------------------------------------------------
def office_down(db: Database, count: int, _url: str, _logs: Path) -> Outcome:
    office = FakeBackOffice()  # not started: down
    halt = in_process(db, office, timeout=1.0)
    try:
        file_requests(db, count, "down")
        time.sleep(3)
        office.start()
        recovery = wait_delivered(db, count, 60)
        return outcome("office-down", db, office, count, recovery)
    finally:
        halt()
        office.stop()


def office_slow_ignoring_keys(db: Database, count: int, _url: str, _logs: Path) -> Outcome:
    office = FakeBackOffice(honour_keys=False, slow_seconds=1.2)
    office.faults = ["slow"] * count
    office.start()
    halt = in_process(db, office, timeout=0.5)
    try:
        started = time.monotonic()
        file_requests(db, count, "slow")
        wait_delivered(db, count, 120)
        return outcome("office-slow-ignoring-keys", db, office, count, time.monotonic() - started)
    finally:
        halt()
        office.stop()


def token_lookups_failing(db: Database, count: int, _url: str, _logs: Path) -> Outcome:
    office = FakeBackOffice(tokens=True, failing_lookups=5, token_lookups_before_ready=0)
    office.start()
    halt = in_process(db, office, timeout=1.0)
    try:
        started = time.monotonic()
        file_requests(db, count, "token")
        wait_delivered(db, count, 120)
        return outcome("token-lookups-failing", db, office, count, time.monotonic() - started)
    finally:
        halt()
        office.stop()


def dispatcher_kill_9(db: Database, count: int, url: str, logs: Path) -> Outcome:
    office = FakeBackOffice(post_delay=0.2).start()
    env = worker_env(url, office)
    file_requests(db, count, "kill")
    first = dispatcher(env, logs / "kill-first.log")
    try:
        deadline = time.monotonic() + 60
        while sum(office.posts.values()) < max(1, count // 3) and time.monotonic() < deadline:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        second = dispatcher(env, logs / "kill-second.log")
        try:
            recovery = wait_delivered(db, count, 120)
        finally:
            stop_process(second)
        return outcome("dispatcher-kill-9", db, office, count, recovery)
    finally:
        stop_process(first)
        office.stop()


def dispatcher_sigterm_restart(db: Database, _count: int, url: str, logs: Path) -> Outcome:
    office = FakeBackOffice().start()
    env = worker_env(url, office)
    first = dispatcher(env, logs / "term-first.log")
    try:
        file_requests(db, 1, "before")
        wait_delivered(db, 1, 60)
        first.send_signal(signal.SIGTERM)
        first.wait(20)
        second = dispatcher(env, logs / "term-second.log")
        try:
            wait_started(logs / "term-second.log")  # the clock starts once it is up
            file_requests(db, 1, "after")
            recovery = wait_delivered(db, 2, 120)
        finally:
            stop_process(second)
        return outcome("dispatcher-sigterm-restart", db, office, 2, recovery)
    finally:
        stop_process(first)
        office.stop()


def two_dispatchers(db: Database, count: int, url: str, logs: Path) -> Outcome:
    office = FakeBackOffice(post_delay=0.02).start()
    env = worker_env(url, office)
    workers = [dispatcher(env, logs / f"two-{i}.log") for i in range(2)]
    try:
        time.sleep(2)
        started = time.monotonic()
        file_requests(db, count, "two")
        wait_delivered(db, count, 120)
        return outcome("two-dispatchers", db, office, count, time.monotonic() - started)
    finally:
        for worker in workers:
            stop_process(worker)
        office.stop()


SCENARIOS = {
    "office-down": office_down,
    "office-slow-ignoring-keys": office_slow_ignoring_keys,
    "token-lookups-failing": token_lookups_failing,
    "dispatcher-kill-9": dispatcher_kill_9,
    "dispatcher-sigterm-restart": dispatcher_sigterm_restart,
    "two-dispatchers": two_dispatchers,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", help="a PostgreSQL URL (default: SQLite files)")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--only", choices=sorted(SCENARIOS), action="append")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # the dispatcher's retries would drown the table
    print("| scenario | filed | delivered | lost | duplicated | recovery (s) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        for name in args.only or SCENARIOS:
            if name == "two-dispatchers" and not args.postgres:
                continue  # SQLite lets one dispatcher work at a time by design
            with database(args.postgres, logs) as url:
                db = Database(url)
                print(SCENARIOS[name](db, args.requests, url, logs).row(), flush=True)
                db.engine.dispose()


if __name__ == "__main__":
    main()
