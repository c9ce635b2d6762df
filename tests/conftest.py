"""Shared fixtures: one real runtime per test process (real model, real index, real SQLite)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from evaluation.conversations import MovableClock

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory, clock: MovableClock) -> Runtime:
    """The demo assistant on a fresh data dir: seeded, indexed and trained as on first start."""
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("data"))
    return build_runtime(settings, clock=clock)
