"""The outbox dispatcher against a fake back office that fails in every way we know of."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.backoffice import lease, outbox
from bot.backoffice.config import build_connector, build_worker, kind
from bot.backoffice.connector import LocalConnector
from bot.backoffice.dispatcher import Dispatcher, RetryPolicy
from bot.backoffice.open311_client import Open311Connector
from bot.backoffice.webhook import WebhookConnector
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import OutboxMessage, ServiceRequest, utcnow

from .support import FakeBackOffice, file_requests

FAST = RetryPolicy(max_attempts=6, base_delay=0.02, max_delay=0.2)


def open311(fake: FakeBackOffice, timeout: float = 1.0, **options: object) -> Open311Connector:
    return Open311Connector(fake.url, api_key=fake.api_key, timeout=timeout, **options)


def rows(db: Database) -> list[OutboxMessage]:
    with db.sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def drain(dispatcher: Dispatcher, db: Database, timeout: float = 20.0) -> None:
    """Run passes until nothing is pending (waiting out backoff), or fail."""
    deadline = time.monotonic() + timeout
    while any(r.status == "pending" for r in rows(db)):
        assert time.monotonic() < deadline, [(r.id, r.last_error) for r in rows(db)]
        if not dispatcher.run_once():
            time.sleep(0.02)


def test_delivers_each_request_once_with_its_key(db: Database, fake: FakeBackOffice) -> None:
    file_requests(db, 5)
    dispatcher = Dispatcher(db, open311(fake), policy=FAST)
    assert dispatcher.run_once() == 5
    assert dispatcher.run_once() == 0
    delivered = rows(db)
    assert {r.status for r in delivered} == {"delivered"}
    assert {r.delivered_to for r in delivered} == {"open311"}
    assert set(fake.posts.values()) == {1}
    assert set(fake.posts) == {r.idempotency_key for r in delivered}
    with db.sessions() as session:
        ids = set(session.scalars(select(ServiceRequest.external_id)))
    assert ids == {r.id for r in fake.records.values()}
    form = next(iter(fake.records.values())).form
    assert form["service_code"] == "pothole"
    assert form["attribute[size]"] == "large"
    assert form["address_string"].endswith("Elm Street")
    assert {"lat", "long", "description", "api_key"} <= set(form)


@pytest.mark.parametrize("faults", [["500", "500"], ["slow"], ["malformed"], ["500", "slow"]])
def test_faults_end_with_exactly_one_record(
    db: Database, fake: FakeBackOffice, faults: list[str]
) -> None:
    file_requests(db, 3)
    fake.faults = list(faults)
    dispatcher = Dispatcher(db, open311(fake, timeout=0.5), policy=FAST)
    drain(dispatcher, db)
    assert {r.status for r in rows(db)} == {"delivered"}
    assert len(fake.records) == 3  # every request arrived, none twice
    # A 500 is sent again; a timed-out POST is looked up (and found) instead; a 2xx is read
    # as filed even when its body is garbled.
    assert sum(fake.posts.values()) == 3 + faults.count("500")
    assert sum(r.attempts for r in rows(db)) == 3 + len(faults) - faults.count("malformed")


def test_back_office_down_for_a_while(db: Database, fake: FakeBackOffice) -> None:
    file_requests(db, 4)
    fake.stop()
    dispatcher = Dispatcher(db, open311(fake, timeout=0.5), policy=RetryPolicy(20, 0.02, 0.1))
    for _ in range(3):
        dispatcher.run_once()
        time.sleep(0.15)
    waiting = rows(db)
    assert {r.status for r in waiting} == {"pending"}
    assert all(r.attempts >= 2 and "unreachable" in (r.last_error or "") for r in waiting)
    fake.start()
    drain(dispatcher, db)
    assert len(fake.records) == 4 and set(fake.posts.values()) == {1}


def test_backoff_grows_exponentially_with_jitter() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=2, max_delay=60)
    assert [policy.delay(n, lambda: 0.5) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert policy.delay(10, lambda: 0.5) == 60
    assert policy.delay(3, lambda: 0.0) == 4 and policy.delay(3, lambda: 0.999) < 12


def test_failed_attempt_waits_for_its_backoff(db: Database, fake: FakeBackOffice) -> None:
    file_requests(db, 1)
    fake.faults = ["500"]
    slow = RetryPolicy(max_attempts=5, base_delay=30, max_delay=60)
    dispatcher = Dispatcher(db, open311(fake), policy=slow, rng=lambda: 0.5)
    before = utcnow()
    assert dispatcher.run_once() == 1
    assert dispatcher.run_once() == 0  # not due for another 30 seconds
    (row,) = rows(db)
    due = row.next_attempt_at.replace(tzinfo=before.tzinfo)
    assert timedelta(seconds=29) < due - before < timedelta(seconds=32)
    assert row.last_error == "open311: HTTP 500"


def test_dead_letter_after_max_attempts_then_staff_retry(
    db: Database, fake: FakeBackOffice
) -> None:
    (request_id,) = file_requests(db, 1)
    fake.faults = ["500"] * 3
    dispatcher = Dispatcher(db, open311(fake), policy=RetryPolicy(3, 0.01, 0.01))
    drain(dispatcher, db)
    (row,) = rows(db)
    assert (row.status, row.attempts) == ("dead", 3)
    assert outbox.summary(db) == {"dead": 1}
    (entry,) = outbox.listing(db, "dead")
    assert entry.reference and entry.last_error == "open311: HTTP 500"
    outbox.retry(db, row.id, actor="staff:ana")
    drain(dispatcher, db)
    (row,) = rows(db)
    assert row.status == "delivered" and len(fake.records) == 1
    with pytest.raises(outbox.NotRetryable):
        outbox.retry(db, row.id, actor="staff:ana")
    with pytest.raises(outbox.NotRetryable):
        outbox.retry(db, 999_999, actor="staff:ana")
    with db.sessions() as session:
        assert session.get(ServiceRequest, request_id).external_id == "CITY-00001"


def test_refusals_go_dead_at_once(db: Database, fake: FakeBackOffice) -> None:
    file_requests(db, 2)
    wrong_key = Open311Connector(fake.url, api_key="not-the-key", timeout=1)
    drain(Dispatcher(db, wrong_key, policy=FAST), db)
    assert [(r.status, r.attempts) for r in rows(db)] == [("dead", 1), ("dead", 1)]
    assert "403" in (rows(db)[0].last_error or "")
    assert not fake.records


def test_service_codes_are_mapped(db: Database, fake: FakeBackOffice) -> None:
    file_requests(db, 1)
    mapped = open311(fake, service_map={"pothole": "unknown_here"})
    drain(Dispatcher(db, mapped, policy=FAST), db)
    (row,) = rows(db)
    assert row.status == "dead" and "service_code not found" in (row.last_error or "")


def test_token_then_id_never_posts_twice(db: Database, fake: FakeBackOffice) -> None:
    file_requests(db, 1)
    fake.faults = ["token"]
    fake.token_lookups_before_ready = 2
    dispatcher = Dispatcher(db, open311(fake), policy=FAST)
    dispatcher.run_once()
    (row,) = rows(db)
    assert row.status == "pending" and row.external_token == "tok-CITY-00001"
    drain(dispatcher, db)
    (row,) = rows(db)
    assert row.status == "delivered"
    assert fake.posts[row.idempotency_key] == 1
    assert fake.token_gets["tok-CITY-00001"] == 3
    with db.sessions() as session:
        assert session.get(ServiceRequest, row.request_id).external_id == "CITY-00001"


LEASE = 3.0


def test_expired_claim_of_a_dead_dispatcher_is_taken_over(
    db: Database, fake: FakeBackOffice
) -> None:
    file_requests(db, 2)
    # A lease long enough that a loaded machine does not let it lapse between the two calls.
    crashed = Dispatcher(db, open311(fake), policy=FAST, lease_seconds=LEASE, name="crashed")
    assert crashed._claim()  # claimed, then "killed" before delivering
    survivor = Dispatcher(db, open311(fake), policy=FAST, lease_seconds=LEASE, name="survivor")
    if db.is_sqlite:  # the crashed one still holds the single-dispatcher lease
        assert survivor.run_once() == 0
    else:
        assert survivor.run_once() == 0  # its rows are claimed
    time.sleep(LEASE + 0.1)
    drain(survivor, db)
    assert len(fake.records) == 2 and set(fake.posts.values()) == {1}
    crashed._deliver(rows(db)[0].id)  # waking up late: the claim is gone, nothing is sent
    assert set(fake.posts.values()) == {1}


def test_sqlite_lease_admits_one_holder(db: Database) -> None:
    now = utcnow()
    assert lease.acquire(db, "outbox", "a", 10, now)
    assert not lease.acquire(db, "outbox", "b", 10, now)
    assert lease.acquire(db, "outbox", "a", 10, now + timedelta(seconds=5))  # renewed
    assert lease.acquire(db, "outbox", "b", 10, now + timedelta(seconds=16))  # a's expired
    lease.release(db, "outbox", "b", now + timedelta(seconds=17))
    assert lease.acquire(db, "outbox", "a", 10, now + timedelta(seconds=18))


def test_webhook_connector_signs_and_is_checked(db: Database, fake: FakeBackOffice) -> None:
    file_requests(db, 2)
    hook = WebhookConnector(f"{fake.url}/hook", fake.webhook_secret, timeout=1)
    fake.faults = ["500"]
    drain(Dispatcher(db, hook, policy=FAST, name="first"), db)
    assert [r.status for r in rows(db)] == ["delivered", "delivered"]
    document = next(iter(fake.records.values())).form
    assert document["event"] == "service_request.filed"
    assert document["request"]["reference"].startswith("REQ-")
    assert "reply_address" not in document["request"]  # no contact details leave us
    file_requests(db, 1)
    lease.release(db, "outbox", "first", utcnow())
    forged = WebhookConnector(f"{fake.url}/hook", b"wrong secret", timeout=1)
    drain(Dispatcher(db, forged, policy=FAST, name="second"), db)
    assert rows(db)[-1].status == "dead" and "401" in (rows(db)[-1].last_error or "")


def test_local_back_office_is_the_default(db: Database) -> None:
    settings = Settings(_env_file=None)
    assert kind(settings) == "local"
    assert isinstance(build_connector(settings), LocalConnector)
    file_requests(db, 2)
    worker = build_worker(settings, db)
    assert worker is not None and worker.dispatcher.run_once() == 2
    assert {(r.status, r.delivered_to) for r in rows(db)} == {("delivered", "local")}


def test_no_back_office_leaves_rows_pending_and_visible(db: Database) -> None:
    settings = Settings(_env_file=None, backoffice="none")
    assert build_connector(settings) is None and build_worker(settings, db) is None
    file_requests(db, 3)
    assert outbox.summary(db) == {"pending": 3}
    assert all(e.reference for e in outbox.listing(db, "pending"))


def test_misconfiguration_is_refused() -> None:
    from bot.backoffice.config import BackOfficeConfigError

    for bad in (
        {"backoffice": "carrier-pigeon"},
        {"backoffice": "open311"},
        {"backoffice": "webhook", "webhook_url": "http://127.0.0.1:9/x"},
    ):
        with pytest.raises(BackOfficeConfigError):
            build_connector(Settings(_env_file=None, **bad))
    chosen = Settings(_env_file=None, open311_url="http://127.0.0.1:9/open311/v2")
    assert kind(chosen) == "open311"


def test_a_stopped_worker_releases_both_leases(db: Database, fake: FakeBackOffice) -> None:
    """After a clean stop (SIGTERM) the next process delivers and polls at once."""
    import threading

    from bot.backoffice.status_sync import StatusSync

    connector = open311(fake)
    first = Dispatcher(db, connector, policy=FAST, name="first")
    sync = StatusSync(db, connector, interval=300, name="first")
    stop = threading.Event()
    thread = threading.Thread(
        target=first.run_forever, args=(stop,), kwargs={"interval": 0.05, "status_sync": sync}
    )
    thread.start()
    time.sleep(0.5)
    stop.set()
    thread.join(5)
    now = utcnow()
    assert lease.acquire(db, "status_sync", "second", 300, now)
    assert lease.acquire(db, "outbox", "second", 60, now)
