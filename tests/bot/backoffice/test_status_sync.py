"""Status changes in the back office reach the request and leave a notice for the resident."""

from __future__ import annotations

from sqlalchemy import select

from bot import service_requests
from bot.backoffice.connector import StatusChange
from bot.backoffice.dispatcher import Dispatcher
from bot.backoffice.open311_client import Open311Connector
from bot.backoffice.status_sync import StatusSync, apply_changes
from bot.storage.db import Database
from bot.storage.models import Notice, RequestEvent, ServiceRequest

from .support import FakeBackOffice, file_requests


def notices(db: Database) -> list[Notice]:
    with db.sessions() as session:
        return list(session.scalars(select(Notice).order_by(Notice.id)))


def test_closed_in_the_back_office_reaches_the_resident(db: Database, fake: FakeBackOffice) -> None:
    first, second = file_requests(db, 2)
    connector = Open311Connector(fake.url, api_key=fake.api_key, timeout=2)
    Dispatcher(db, connector).run_once()
    sync = StatusSync(db, connector, interval=60, name="poller")
    record = fake.by_id()["CITY-00001"]
    record.status, record.notes = "closed", "Filled on Tuesday."
    assert sync.run_once() == 2  # one closed, the other acknowledged (open over there)
    with db.sessions() as session:
        closed = session.get(ServiceRequest, first)
        assert (closed.status, closed.status_note) == ("closed", "Filled on Tuesday.")
        assert session.get(ServiceRequest, second).status == "acknowledged"
        actors = set(session.scalars(select(RequestEvent.actor)))
    assert "backoffice:open311" in actors
    texts = [n.text for n in notices(db)]
    assert any("now finished. Filled on Tuesday." in t for t in texts)
    assert {(n.channel, n.address, n.status) for n in notices(db)} == {
        ("web", "resident-1", "pending")
    }
    assert sync.run_once() == 0  # nothing new: no second notice
    assert len(notices(db)) == 2
    assert sync.maybe_run() == 0  # not due before the interval is over


def test_open_never_undoes_progress_made_by_staff(db: Database) -> None:
    (request_id,) = file_requests(db, 1)
    with db.transaction() as session:
        request = session.get(ServiceRequest, request_id)
        request.external_id = "CITY-9"
        service_requests.change_status(session, request, "in_progress", "staff:ana")
        session.execute(
            service_requests.OutboxMessage.__table__.update().values(delivered_to="open311")
        )
    assert apply_changes(db, "open311", [StatusChange("CITY-9", "acknowledged")]) == 0
    assert apply_changes(db, "webhook", [StatusChange("CITY-9", "closed")]) == 0  # not theirs
    assert apply_changes(db, "open311", [StatusChange("CITY-9", "bogus")]) == 0
    assert apply_changes(db, "open311", [StatusChange("CITY-9", "in_progress", "Crew sent")]) == 1
    with db.sessions() as session:
        assert session.get(ServiceRequest, request_id).status_note == "Crew sent"


def test_one_poller_at_a_time(db: Database, fake: FakeBackOffice) -> None:
    file_requests(db, 1)
    connector = Open311Connector(fake.url, api_key=fake.api_key, timeout=2)
    Dispatcher(db, connector).run_once()
    assert StatusSync(db, connector, interval=60, name="a").run_once() == 1
    assert StatusSync(db, connector, interval=60, name="b").run_once() == 0  # a holds it


def test_resident_who_opted_out_gets_no_notice(db: Database, fake: FakeBackOffice) -> None:
    (request_id,) = file_requests(db, 1)
    with db.transaction() as session:
        session.get(ServiceRequest, request_id).contact_preference = "none"
    connector = Open311Connector(fake.url, api_key=fake.api_key, timeout=2)
    Dispatcher(db, connector).run_once()
    fake.by_id()["CITY-00001"].status = "closed"
    assert StatusSync(db, connector, interval=60).run_once() == 1
    assert notices(db) == []
