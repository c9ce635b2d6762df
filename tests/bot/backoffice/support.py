"""Test parts for the back office: requests filed as the assistant files them, the fake back
office (evaluation/benchmarks/backoffice_fake.py), waiting, and child processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bot import service_requests
from bot.storage.db import Database
from bot.storage.models import ServiceRequest
from evaluation.benchmarks.backoffice_fake import FakeBackOffice

__all__ = ["FakeBackOffice", "dispatcher_process", "file_requests", "wait_for"]

ROOT = Path(__file__).resolve().parents[3]
HOTLINE = Path(sys.executable).with_name("hotline")  # the console script, as operators run it


def file_requests(db: Database, count: int, service_code: str = "pothole") -> list[int]:
    """File requests as the assistant does (request and outbox row in one transaction)."""
    ids = []
    for i in range(count):
        with db.transaction() as session:
            request = service_requests.file_request(
                session,
                ServiceRequest(
                    service_code=service_code,
                    description=f"hole number {i} in the road",
                    address=f"{i + 1} Elm Street",
                    street="Elm Street",
                    district="Old Town",
                    lat=47.61,
                    lon=-122.33,
                    fields={"size": "large"},
                    channel="web",
                    reply_address="resident-1",
                ),
                "test",
            )
            ids.append(request.id)
    return ids


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def start_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A child process of ours (a dispatcher or a server), its output kept for failures."""
    full = {**os.environ, "HF_HUB_OFFLINE": "1", **env}
    with log.open("ab") as out:
        return subprocess.Popen(args, cwd=ROOT, env=full, stdout=out, stderr=subprocess.STDOUT)


def dispatcher_process(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return start_process([str(HOTLINE), "dispatch"], env, log)
