"""Requests filed per second end to end: conversation -> outbox -> back office, on PostgreSQL.

Usage::

    HOTLINE_TEST_POSTGRES_URL=$(scripts/test-postgres.sh url) \\
        python -m evaluation.benchmarks.backoffice_throughput [--requests 200] [--latency-ms 20]

For one and for two ``hotline dispatch`` worker processes, it

* end to end: residents (4 threads, each a 3-turn report conversation through the
  assistant) file requests while the workers deliver them to a local Open311 back office;
  the rate is requests / (first message -> last request received by the back office);
* dispatch only: a backlog of the same number of filed requests is released at once and
  drained by the workers.

The back office is a local HTTP server answering ``POST requests.json`` after
``--latency-ms`` (a remote city system is not instant). Each round uses a fresh database.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import make_url

from bot.contract import InboundMessage
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import OutboxMessage, utcnow

CONVERSATION = [
    "there is a deep pothole outside {n} Elm Street that burst my tyre",
    "Message me here",
    "yes",
]
HOTLINE = Path(sys.executable).with_name("hotline")


class BackOffice:
    """A stand-in city system: files each Idempotency-Key once, after a fixed latency."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.keys: dict[str, str] = {}
        self.lock = threading.Lock()
        self.last_at = 0.0
        office = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # as real servers do; else 40 ms stalls

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(office.latency)
                key = self.headers.get("Idempotency-Key") or uuid.uuid4().hex
                with office.lock:
                    ident = office.keys.setdefault(key, f"CITY-{len(office.keys) + 1}")
                    office.last_at = time.perf_counter()
                body = json.dumps([{"service_request_id": ident}]).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def fresh_database(base_url: str):
    name = f"hotline_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def workers(count: int, db_url: str, office: BackOffice, logs: Path):
    env = {
        **os.environ,
        "HOTLINE_DATABASE_URL": db_url,
        "HOTLINE_BACKOFFICE": "open311",
        "HOTLINE_OPEN311_URL": office.url,
        "HOTLINE_OPEN311_API_KEY": "bench",
        "HOTLINE_DISPATCH_INTERVAL": "0.05",
        "HOTLINE_STATUS_POLL_INTERVAL": "3600",
    }
    processes = []
    for i in range(count):
        with (logs / f"dispatch-{count}-{i}.log").open("wb") as log:
            processes.append(
                subprocess.Popen([str(HOTLINE), "dispatch"], env=env, stdout=log, stderr=log)
            )
    time.sleep(3)  # let them import and connect before the clock starts
    try:
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)


def converse(runtime: Runtime, n: int) -> bool:
    """One resident's report, start to finish; True if it was filed."""
    sender = f"bench-{uuid.uuid4().hex}"
    reply = None
    for turn in CONVERSATION:
        reply = runtime.assistant.handle(
            InboundMessage(channel="bench", sender=sender, text=turn.format(n=n % 90 + 1))
        )
    return bool(reply and reply.filed_reference)


def file_many(runtime: Runtime, requests: int) -> int:
    with ThreadPoolExecutor(4) as pool:
        filed = sum(pool.map(lambda n: converse(runtime, n), range(requests)))
    if filed < requests:
        raise SystemExit(f"only {filed} of {requests} conversations filed a request")
    return filed


def wait_until(office: BackOffice, count: int, timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    while len(office.keys) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(office.keys)} of {count} arrived in {timeout} s")
        time.sleep(0.01)
    return office.last_at


def end_to_end(runtime: Runtime, office: BackOffice, requests: int) -> float:
    already = len(office.keys)
    started = time.perf_counter()
    file_many(runtime, requests)
    filed_at = time.perf_counter()
    last = wait_until(office, already + requests)
    print(
        f"    conversations alone: {requests} filed in {filed_at - started:.1f} s "
        f"({requests / (filed_at - started):.1f}/s)"
    )
    return requests / (last - started)


def hold_back(runtime: Runtime, until: Any) -> None:
    with runtime.db.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "pending")
            .values(next_attempt_at=until)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--workers", default="1,2", help="dispatcher counts to try, in order")
    parser.add_argument("--postgres-url", default=os.environ.get("HOTLINE_TEST_POSTGRES_URL"))
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("var/benchmarks/backoffice"),
        help="kept between runs so the NLU model is trained once",
    )
    args = parser.parse_args()
    if not args.postgres_url:
        raise SystemExit("needs PostgreSQL: set HOTLINE_TEST_POSTGRES_URL or --postgres-url")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.data_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"{args.requests} requests per round, back office latency {args.latency_ms:.0f} ms, "
        f"{os.cpu_count()} CPUs"
    )
    for count in [int(n) for n in args.workers.split(",")]:
        with fresh_database(args.postgres_url) as db_url:
            Database(db_url).migrate()
            settings = Settings(
                _env_file=None,
                data_dir=args.data_dir,
                database_url=db_url,
                backoffice="none",
                dispatch_in_app=False,
            )
            runtime = build_runtime(settings)
            file_many(runtime, args.requests)  # the backlog, filed with no worker running
            hold_back(runtime, utcnow().replace(year=utcnow().year + 1))
            office = BackOffice(args.latency_ms / 1000)
            try:
                with workers(count, db_url, office, args.data_dir):
                    started = time.perf_counter()
                    hold_back(runtime, utcnow())
                    drain = args.requests / (wait_until(office, args.requests) - started)
                    e2e = end_to_end(runtime, office, args.requests)
            finally:
                office.close()
                runtime.db.engine.dispose()
        print(
            f"{count} dispatcher(s): end to end {e2e:6.1f} requests/s   "
            f"dispatch only {drain:6.1f} requests/s"
        )


if __name__ == "__main__":
    main()
