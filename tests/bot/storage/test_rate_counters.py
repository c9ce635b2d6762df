"""Rate-limit counters in the database: every instance counts the same messages."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from limits.errors import ConfigurationError
from limits.storage import MemoryStorage

from bot.storage.db import Database
from bot.storage.rate_counters import DatabaseStorage
from channels.rate_limit import RateLimiter, counters
from tests.databases import BACKENDS, fresh_database_url


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path):
    with fresh_database_url(request.param, tmp_path) as fresh:
        yield fresh


def test_two_instances_share_one_limit(url: str) -> None:
    """Behind a load balancer, a sender's messages count together whichever instance answers."""
    one, other = Database(url), Database(url)  # two instances, each its own pool
    first = RateLimiter("3/minute", "100/minute", DatabaseStorage(lambda: one))
    second = RateLimiter("3/minute", "100/minute", DatabaseStorage(lambda: other))
    answered = [limiter.hit("sms", "+15550001111").allowed for limiter in (first, second) * 2]
    assert answered == [True, True, True, False]
    refused = second.hit("sms", "+15550001111")
    assert not refused.allowed and 1 <= refused.retry_after <= 60
    assert first.hit("sms", "+15550002222").allowed  # another sender is not affected


def test_concurrent_hits_lose_no_count(url: str) -> None:
    db = Database(url)
    storage = DatabaseStorage(lambda: db)
    threads = [
        threading.Thread(target=lambda: [storage.incr("key", 60) for _ in range(20)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert storage.get("key") == 80


def test_a_window_ends_and_counting_starts_again(url: str) -> None:
    db = Database(url)
    storage = DatabaseStorage(lambda: db)
    assert [storage.incr("short", 0.3) for _ in range(3)] == [1, 2, 3]
    time.sleep(0.35)
    assert storage.get("short") == 0
    assert storage.incr("short", 0.3) == 1
    storage.clear("short")
    assert storage.get("short") == 0 and storage.check()


def test_the_setting_picks_the_store(tmp_path: Path) -> None:
    sqlite = f"sqlite:///{tmp_path / 'h.db'}"
    db = Database(sqlite)
    assert isinstance(counters("auto", sqlite, lambda: db), MemoryStorage)  # one instance
    assert isinstance(counters("auto", "postgresql://h/db", lambda: db), DatabaseStorage)
    assert isinstance(counters("database", sqlite, lambda: db), DatabaseStorage)
    assert isinstance(counters("memory://", sqlite, lambda: db), MemoryStorage)  # a limits URI
    with pytest.raises(ConfigurationError):
        counters("nosuchstore://x", sqlite, lambda: db)
