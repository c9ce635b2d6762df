"""Our Open311 client against a spec-following fake back office, over HTTP, in every mode a
city's back office may be in: JSON, XML only, tokens whose look-ups fail, slow, and one that
answers JSON requests with XML or ignores idempotency keys."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from bot.backoffice import outbox
from bot.backoffice.dispatcher import Dispatcher, RetryPolicy
from bot.backoffice.open311_client import Open311Connector
from bot.storage.db import Database
from bot.storage.models import OutboxMessage, ServiceRequest

from .support import FakeBackOffice, file_requests

FAST = RetryPolicy(max_attempts=4, base_delay=0.02, max_delay=0.1)


def rows(db: Database) -> list[OutboxMessage]:
    with db.sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def external_ids(db: Database) -> list[str | None]:
    with db.sessions() as session:
        return list(session.scalars(select(ServiceRequest.external_id).order_by(ServiceRequest.id)))


def drain(dispatcher: Dispatcher, db: Database, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while any(r.status == "pending" for r in rows(db)):
        assert time.monotonic() < deadline, [(r.id, r.last_error) for r in rows(db)]
        if not dispatcher.run_once():
            time.sleep(0.02)


def connector(fake: FakeBackOffice, **options: object) -> Open311Connector:
    return Open311Connector(fake.url, api_key=fake.api_key, timeout=1.0, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["auto", "json", "xml"])
def test_json_back_office_files_once_in_the_format_chosen(
    db: Database, fake: FakeBackOffice, fmt: str
) -> None:
    file_requests(db, 3)
    client = connector(fake, format=fmt)
    drain(Dispatcher(db, client, policy=FAST), db)
    assert {r.status for r in rows(db)} == {"delivered"}
    assert sorted(external_ids(db)) == sorted(r.id for r in fake.records.values())
    assert set(fake.posts.values()) == {1}
    wanted = "json" if fmt == "auto" else fmt
    assert fake.hits[f"POST /requests.{wanted}"] == 3


def test_xml_only_back_office_is_found_and_used(db: Database, fake: FakeBackOffice) -> None:
    """requests.json is a plain 404 there: we must speak XML, not give up after one try."""
    fake.formats = ("xml",)
    file_requests(db, 3)
    client = connector(fake)
    drain(Dispatcher(db, client, policy=FAST), db)
    assert client.format == "xml"
    assert {r.status for r in rows(db)} == {"delivered"}
    assert all(i and i.startswith("CITY-") for i in external_ids(db))
    assert fake.hits["POST /requests.json"] == 0 and fake.hits["POST /requests.xml"] == 3
    # Status comes back in XML too.
    next(iter(fake.records.values())).status = "closed"
    changes = client.poll_status([i for i in external_ids(db) if i])
    assert sorted(c.status for c in changes) == ["acknowledged", "acknowledged", "closed"]


@pytest.mark.parametrize("offered", [("xml",), ("json", "xml")])
def test_the_discovery_document_names_the_format(
    db: Database, fake: FakeBackOffice, offered: tuple[str, ...]
) -> None:
    fake.formats = offered
    client = connector(fake, discovery_url=f"{fake.url}/discovery.xml")
    assert client.format == ("json" if "json" in offered else "xml")
    assert fake.hits["GET /services.json"] == 0  # no probing when discovery says


def test_a_json_request_answered_in_xml_is_read_not_refiled(
    db: Database, fake: FakeBackOffice
) -> None:
    fake.answer_xml = True
    file_requests(db, 2)
    drain(Dispatcher(db, connector(fake, format="json"), policy=FAST), db)
    assert {r.status for r in rows(db)} == {"delivered"}
    assert all(i and i.startswith("CITY-") for i in external_ids(db))
    assert set(fake.posts.values()) == {1}


def test_a_garbled_2xx_counts_as_filed(db: Database, fake: FakeBackOffice) -> None:
    fake.faults = ["malformed"]
    file_requests(db, 1)
    drain(Dispatcher(db, connector(fake), policy=FAST), db)
    assert [r.status for r in rows(db)] == ["delivered"]
    assert sum(fake.posts.values()) == 1


def test_failing_token_lookups_never_post_again(db: Database, fake: FakeBackOffice) -> None:
    """A token came back; its look-up answers 500 many times. The POST is never repeated, the
    look-ups back off on their own and outlive max_attempts, and staff see why it waits."""
    fake.tokens = True
    fake.failing_lookups = FAST.max_attempts + 2
    fake.token_lookups_before_ready = 0
    file_requests(db, 1)
    dispatcher = Dispatcher(db, connector(fake), policy=FAST)
    dispatcher.run_once()
    waiting = rows(db)[0]
    assert waiting.status == "pending" and waiting.external_token
    entry = outbox.listing(db, "pending")[0]
    assert "waiting for the back office's id" in entry.outcome
    assert "token" in (entry.last_error or "") and "500" in (entry.last_error or "")
    drain(dispatcher, db)
    assert [r.status for r in rows(db)] == ["delivered"]
    assert sum(fake.posts.values()) == 1
    assert sum(fake.token_gets.values()) == fake.failing_lookups + 1
    assert external_ids(db) == [next(iter(fake.records.values())).id]
    assert rows(db)[0].attempts == 1  # one POST; the look-ups were counted apart


def test_a_slow_back_office_that_ignores_keys_files_once(
    db: Database, fake: FakeBackOffice
) -> None:
    """Our POST times out after the back office filed it; it ignores Idempotency-Key, so only
    looking it up before sending again keeps it from being filed twice."""
    fake.honour_keys = False
    fake.faults = ["slow"]
    fake.slow_seconds = 1.5
    file_requests(db, 1)
    dispatcher = Dispatcher(db, connector(fake), policy=FAST)
    dispatcher.run_once()
    assert rows(db)[0].maybe_filed
    drain(dispatcher, db)
    assert [r.status for r in rows(db)] == ["delivered"]
    assert len(fake.records) == 1 and sum(fake.posts.values()) == 1
    assert external_ids(db) == [next(iter(fake.records.values())).id]


def test_an_unknown_outcome_is_said_and_retry_asks_first(
    db: Database, fake: FakeBackOffice
) -> None:
    """A POST times out after the back office filed it, and then the office is down until
    the row is dead: the row says it may have been filed, and Retry finds the request at the
    back office instead of filing it again."""
    fake.honour_keys = False
    fake.faults = ["slow"]
    file_requests(db, 1)
    client = connector(fake)
    dispatcher = Dispatcher(db, client, policy=FAST)
    dispatcher.run_once()
    fake.stop()
    drain(dispatcher, db)
    dead = outbox.listing(db, "dead")
    assert [e.outcome for e in dead] == ["unknown: may have been filed"]
    fake.start()
    assert outbox.retry_dead(db, dead[0].id, "agent")
    drain(dispatcher, db)
    assert [r.status for r in rows(db)] == ["delivered"]
    assert len(fake.records) == 1 and sum(fake.posts.values()) == 1  # found, not filed again
    assert external_ids(db) == [next(iter(fake.records.values())).id]
