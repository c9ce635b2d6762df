"""Shared fixtures: one real runtime per test process (real model, real index, real SQLite)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, time
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bot.office_hours import OfficeHours
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from evaluation.qa.conversations import MovableClock

ROOT = Path(__file__).resolve().parents[1]
THURSDAY_MORNING = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)  # 10:00 in Port Alder: staff are in
SATURDAY_MORNING = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)  # the office is closed


@pytest.fixture(scope="session")
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory, clock: MovableClock) -> Runtime:
    """The demo assistant on a fresh data dir: seeded, indexed and trained as on first start."""
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("data"))
    return build_runtime(settings, clock=clock)


@pytest.fixture
def staff_in(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Staff are in whatever the wall clock says, for tests of a handoff that staff answer.

    The hours change, not the clock: sign-in throttles and leases read the same clock.
    """
    always = OfficeHours(days=tuple(range(7)), opens=time.min, closes=time.max)
    monkeypatch.setattr(runtime.assistant, "office_hours", always)
