"""The outbox page: dead rows seen and retried from the console, then really delivered.

These tests run on a database of their own (the console's accounts included), so the
dispatcher they run delivers only the rows they made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from bot.backoffice.dispatcher import Dispatcher, RetryPolicy
from bot.backoffice.open311_client import Open311Connector
from bot.runtime import Runtime
from bot.storage.db import Database
from bot.storage.models import OutboxMessage, ServiceRequest
from channels.staff.pages_outbox import redact
from tests.bot.backoffice.support import FakeBackOffice, file_requests
from tests.channels.staff.conftest import Console
from tests.databases import fresh_database_url

ONE_TRY = RetryPolicy(max_attempts=1, base_delay=0.01, max_delay=0.01)


@pytest.fixture(scope="module")
def runtime(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    with fresh_database_url("sqlite", tmp_path_factory.mktemp("outbox")) as url:
        db = Database(url)
        yield dataclasses.replace(runtime, db=db)
        db.engine.dispose()


@pytest.fixture
def fake() -> Iterator[FakeBackOffice]:
    office = FakeBackOffice().start()
    yield office
    office.stop()


def dispatcher(runtime: Runtime, fake: FakeBackOffice) -> Dispatcher:
    connector = Open311Connector(fake.url, api_key=fake.api_key, timeout=2.0)
    # one name for every pass: on SQLite the dispatcher lease stays with its holder
    return Dispatcher(runtime.db, connector, policy=ONE_TRY, name="console-tests")


def row_of(runtime: Runtime, request_id: int) -> OutboxMessage:
    with runtime.db.sessions() as session:
        row = session.query(OutboxMessage).filter_by(request_id=request_id).one()
        session.expunge(row)
        return row


def reference_of(runtime: Runtime, request_id: int) -> str:
    with runtime.db.sessions() as session:
        request = session.get(ServiceRequest, request_id)
        assert request is not None and request.reference
        return request.reference


def dead_row(runtime: Runtime, fake: FakeBackOffice) -> tuple[int, OutboxMessage]:
    """A request whose delivery failed for good: the back office answered 500."""
    [request_id] = file_requests(runtime.db, 1)
    fake.faults = ["500"]
    assert dispatcher(runtime, fake).run_once() == 1
    row = row_of(runtime, request_id)
    assert (row.status, row.attempts, row.last_error) == ("dead", 1, "open311: HTTP 500")
    return request_id, row


def test_the_page_refuses_without_sign_in_and_with_the_wrong_role(
    app: FastAPI, console: Callable[[str], Console], runtime: Runtime, fake: FakeBackOffice
) -> None:
    _, row = dead_row(runtime, fake)
    retry = f"/staff/outbox/{row.id}/retry"
    anonymous = TestClient(app)
    response = anonymous.get("/staff/outbox", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/login?next=%2Fstaff%2Foutbox"
    assert anonymous.post(retry, follow_redirects=False).status_code == 303

    editor = console("editor")
    assert editor.get("/staff/outbox").status_code == 403
    assert editor.post(retry).status_code == 403
    assert "Outbox" not in editor.get("/staff").text  # not in the navigation either

    qa = console("qa")
    page = qa.get("/staff/outbox")
    assert page.status_code == 200
    assert "open311: HTTP 500" in page.text
    assert f'action="{retry}"' not in page.text  # reads, but gets no button
    assert qa.post(retry).status_code == 403
    assert row_of(runtime, row.request_id or 0).status == "dead"


def test_retry_needs_the_csrf_token(
    console: Callable[[str], Console], runtime: Runtime, fake: FakeBackOffice
) -> None:
    _, row = dead_row(runtime, fake)
    agent = console("agent")
    for data in ({}, {"csrf_token": "forged"}):
        response = agent.client.post(
            f"/staff/outbox/{row.id}/retry", data=data, follow_redirects=False
        )
        assert response.status_code == 403
        assert "did not come from this console" in response.text
    assert row_of(runtime, row.request_id or 0).status == "dead"


def test_a_dead_row_is_retried_then_delivered_once(
    console: Callable[[str], Console], runtime: Runtime, fake: FakeBackOffice
) -> None:
    request_id, row = dead_row(runtime, fake)
    reference = reference_of(runtime, request_id)
    agent = console("agent")

    dashboard = agent.get("/staff").text
    assert 'href="/staff/outbox"' in dashboard and 'id="outbox-dead"' in dashboard
    page = agent.get("/staff/outbox").text
    assert reference in page and f'action="/staff/outbox/{row.id}/retry"' in page

    response = agent.post(f"/staff/outbox/{row.id}/retry")
    assert (response.status_code, response.headers["location"]) == (303, "/staff/outbox")
    assert "is back in line" in agent.get("/staff/outbox").text
    again = row_of(runtime, request_id)
    assert (again.status, again.attempts, again.last_error) == ("pending", 0, "open311: HTTP 500")

    twice = agent.post(f"/staff/outbox/{row.id}/retry")  # a double press: nothing more
    assert twice.status_code == 303
    assert "was not retried" in agent.get("/staff/outbox").text

    assert dispatcher(runtime, fake).run_once() == 1
    delivered = row_of(runtime, request_id)
    assert delivered.status == "delivered" and delivered.delivered_to == "open311"
    assert fake.posts[row.idempotency_key] == 2  # the failed POST and the retried one
    assert len(fake.records) == 1

    assert agent.post(f"/staff/outbox/{row.id}/retry").status_code == 303  # delivered: no-op
    assert dispatcher(runtime, fake).run_once() == 0
    assert fake.posts[row.idempotency_key] == 2
    assert row_of(runtime, request_id).status == "delivered"
    assert agent.post("/staff/outbox/999999999/retry").status_code == 303  # none such: no-op
    assert agent.post("/staff/outbox/99999999999999999999/retry").status_code == 422


def test_errors_are_shown_without_personal_data(
    console: Callable[[str], Console], runtime: Runtime, fake: FakeBackOffice
) -> None:
    request_id, row = dead_row(runtime, fake)
    reference = reference_of(runtime, request_id)
    echoed = f"open311: HTTP 400: 400 {reference} <b>bad</b> ana@example.org +1 (555) 010-4477"
    with runtime.db.transaction() as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == row.id).values(last_error=echoed)
        )
    page = console("admin").get("/staff/outbox").text
    assert f"400 {reference} &lt;b&gt;bad&lt;/b&gt; [hidden] [hidden]" in page
    assert "ana@example.org" not in page and "010-4477" not in page
    assert redact("timed out after 10.0 s (attempt 3)") == "timed out after 10.0 s (attempt 3)"


def test_a_row_that_may_have_been_filed_says_so(
    console: Callable[[str], Console], runtime: Runtime, fake: FakeBackOffice
) -> None:
    """Its POST timed out after the back office had it: not "delivery gave up" alone."""
    [request_id] = file_requests(runtime.db, 1)
    fake.faults = ["slow"]
    connector = Open311Connector(fake.url, api_key=fake.api_key, timeout=0.5)
    Dispatcher(runtime.db, connector, policy=ONE_TRY, name="console-tests").run_once()
    row = row_of(runtime, request_id)
    assert (row.status, row.maybe_filed) == ("dead", True)
    page = console("agent").get("/staff/outbox")
    assert "unknown: may have been filed" in page.text
    assert "asks the back office for it before filing anything again" in page.text
