"""Our Open311 GeoReport v2 server: in process, then as uvicorn processes on loopback.

The processes are read by a client we did not write (``georeport`` from PyPI), filed into by
our own Open311 connector, and, on PostgreSQL, run as two instances that share one
conversation and file each request once.
"""

from __future__ import annotations

import dataclasses
import shutil
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from civicbot.http import HttpTransport, RateLimiter
from civicbot.open311 import Open311Client
from civicbot.registry import Endpoint
from fastapi.testclient import TestClient
from georeport import GeoReport
from pydantic import SecretStr
from sqlalchemy import func, select

from bot import service_requests
from bot.backoffice.dispatcher import Dispatcher
from bot.backoffice.open311_client import Open311Connector
from bot.backoffice.status_sync import StatusSync
from bot.runtime import Runtime
from bot.storage.db import Database
from bot.storage.models import Notice, OutboxMessage, ServiceRequest
from channels import open311
from channels.app import create_app
from evaluation.benchmarks.server import hotline_server
from tests.bot.backoffice.support import file_requests, wait_for
from tests.databases import NEEDS_POSTGRES, fresh_database_url

API_KEY = "open311-test-key"
JURISDICTION = "portalder.example"
# The GeoReport v2 field lists (https://wiki.open311.org/GeoReport_v2).
SERVICE_FIELDS = {
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
}
DEFINITION_FIELDS = {"service_code", "attributes"}
ATTRIBUTE_FIELDS = {
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
}
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}
# The spec: the id "should not be returned if token is returned"; we file at once, so the id.
CREATED_FIELDS = {"service_request_id", "service_notice", "account_id"}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
ELM_STREET = {"lat": "47.6037", "long": "-122.3321"}


def check_request(item: dict[str, Any]) -> None:
    assert set(item) == REQUEST_FIELDS
    assert item["status"] in ("open", "closed")
    for moment in ("requested_datetime", "updated_datetime"):
        assert item[moment].endswith("+00:00")


# -- in process ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(runtime: Runtime) -> TestClient:
    settings = runtime.settings.model_copy(update={"open311_api_keys": SecretStr(f"{API_KEY},k2")})
    return TestClient(create_app(runtime=dataclasses.replace(runtime, settings=settings)))


def post(
    client: TestClient, fmt: str = "json", headers: dict[str, str] | None = None, **fields: str
) -> httpx.Response:
    data = {"api_key": API_KEY, "service_code": "pothole", **ELM_STREET, **fields}
    return client.post(f"/open311/v2/requests.{fmt}", data=data, headers=headers or {})


def test_service_list_follows_the_field_list(client: TestClient, runtime: Runtime) -> None:
    services = client.get("/open311/v2/services.json").json()
    assert [s["service_code"] for s in services] == runtime.catalogue.codes
    for service in services:
        assert set(service) == SERVICE_FIELDS
        assert service["type"] in ("realtime", "batch", "blackbox")
        assert isinstance(service["metadata"], bool)
    xml = ET.fromstring(client.get("/open311/v2/services.xml").content)
    assert xml.tag == "services"
    assert {child.tag for child in xml[0]} == SERVICE_FIELDS
    assert len(xml) == len(services)


def test_service_definition_exposes_catalogue_fields(client: TestClient) -> None:
    definition = client.get("/open311/v2/services/missed_collection.json").json()
    assert set(definition) == DEFINITION_FIELDS
    (attribute,) = definition["attributes"]
    assert set(attribute) == ATTRIBUTE_FIELDS
    assert attribute["datatype"] in DATATYPES
    assert (attribute["code"], attribute["required"]) == ("bin_type", True)
    assert [v["key"] for v in attribute["values"]] == ["general", "recycling", "garden"]
    xml = ET.fromstring(client.get("/open311/v2/services/missed_collection.xml").content)
    assert xml.tag == "service_definition"
    assert [v.findtext("key") for v in xml.iter("value")] == ["general", "recycling", "garden"]


def test_post_files_through_the_core_with_an_outbox_row(
    client: TestClient, runtime: Runtime
) -> None:
    response = post(client, description="Deep hole by the bus stop", **{"attribute[size]": "large"})
    assert response.status_code == 200, response.text
    (created,) = response.json()
    assert set(created) == CREATED_FIELDS
    reference = created["service_request_id"]
    with runtime.db.sessions() as session:
        request = service_requests.find(session, reference)
        assert request is not None
        assert (request.channel, request.street, request.fields["size"]) == (
            "open311",
            "Elm Street",
            "large",
        )
        assert request.contact_preference == "none"
        assert (
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.request_id == request.id)
            )
            == 1
        )
    issued = open311.token_for(runtime, reference)  # tokens still resolve for their holders
    token = client.get(f"/open311/v2/tokens/{issued}.json").json()
    assert token == [{"service_request_id": reference, "token": issued}]
    forged = issued[:-4] + "0000"
    assert client.get(f"/open311/v2/tokens/{forged}.json").status_code == 404


def test_read_back_one_and_many_in_json_and_xml(client: TestClient) -> None:
    reference = post(client, description="Read me back").json()[0]["service_request_id"]
    (one,) = client.get(f"/open311/v2/requests/{reference}.json").json()
    check_request(one)
    assert (one["service_request_id"], one["status"], one["service_code"]) == (
        reference,
        "open",
        "pothole",
    )
    many = client.get("/open311/v2/requests.json", params={"service_request_id": reference})
    assert many.json() == [one]
    listed = client.get("/open311/v2/requests.json", params={"status": "open"}).json()
    assert reference in {r["service_request_id"] for r in listed}
    closed = client.get("/open311/v2/requests.json", params={"status": "closed"}).json()
    assert reference not in {r["service_request_id"] for r in closed}
    xml = ET.fromstring(client.get(f"/open311/v2/requests/{reference}.xml").content)
    assert xml.tag == "service_requests"
    assert {child.tag for child in xml[0]} == REQUEST_FIELDS
    assert xml[0].findtext("service_request_id") == reference


def test_description_and_address_only_for_key_holders(client: TestClient) -> None:
    reference = post(client, description="My neighbour Ann at no. 4 saw it").json()[0][
        "service_request_id"
    ]
    (public,) = client.get(f"/open311/v2/requests/{reference}.json").json()
    assert public["description"] is None and public["lat"] is None
    (full,) = client.get(
        f"/open311/v2/requests/{reference}.json", params={"api_key": API_KEY}
    ).json()
    assert full["description"] == "My neighbour Ann at no. 4 saw it"
    assert float(full["lat"]) == pytest.approx(47.6037)


def test_idempotency_key_files_once(client: TestClient, runtime: Runtime) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = post(client, headers=key, description="only once").json()[0]
    again = post(client, headers=key, description="only once").json()[0]
    assert first == again
    other_client = post(client, headers=key, api_key="k2", description="only once").json()[0]
    assert other_client["service_request_id"] != first["service_request_id"]  # keys per client


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"api_key": ""}, 403, "api_key"),
        ({"api_key": "guessed"}, 403, "api_key"),
        ({"jurisdiction_id": "elsewhere.example"}, 404, "jurisdiction_id"),
        ({"service_code": ""}, 400, "service_code not provided"),
        ({"service_code": "dragon"}, 404, "service_code not found"),
        ({"lat": "", "long": ""}, 400, "address_string"),
        ({"lat": "91"}, 400, "lat"),
        ({"lat": "nan"}, 400, "lat"),
        ({"lat": "0", "long": "0"}, 400, "outside the city"),
        ({"long": ""}, 400, "together"),
        ({"description": "x" * 4001}, 400, "description"),
        ({"attribute[size]": "enormous"}, 400, "must be one of"),
        ({"attribute[colour]": "red"}, 400, "not defined"),
        ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
        ({"service_code": "missed_collection"}, 400, "required service attribute missing"),
    ],
)
def test_refusals_use_the_spec_error_format(
    client: TestClient, fields: dict[str, str], status: int, words: str
) -> None:
    for fmt in ("json", "xml"):
        response = post(client, fmt, **fields)
        assert response.status_code == status, response.text
        if fmt == "json":
            (error,) = response.json()
            assert set(error) == {"code", "description"} and error["code"] == status
            assert words in error["description"]
        else:
            xml = ET.fromstring(response.content)
            assert xml.tag == "errors" and xml[0].findtext("code") == str(status)


def test_bad_reads_are_refused_clearly(client: TestClient) -> None:
    cases = {
        "/open311/v2/services.csv": 404,
        "/open311/v2/services.json?jurisdiction_id=elsewhere": 404,
        "/open311/v2/services/dragon.json": 404,
        "/open311/v2/requests/REQ-1999-999999.json": 404,
        "/open311/v2/requests.json?start_date=yesterday": 400,
        "/open311/v2/requests.json?status=maybe": 400,
        "/open311/v2/requests.json?start_date=2020-01-01T00:00:00Z&end_date=2021-01-01": 400,
        "/open311/v2/requests.json?service_request_id=" + ",".join(["x"] * 101): 400,
        "/open311/v2/tokens/nonsense.json": 404,
    }
    for url, status in cases.items():
        response = client.get(url)
        assert response.status_code == status, url
        assert response.json()[0]["code"] == status
    assert (
        client.get(f"/open311/v2/services.json?jurisdiction_id={JURISDICTION}").status_code == 200
    )


def test_hostile_input_loses_nothing(client: TestClient) -> None:
    nasty = "<script>alert(1)</script>\u202e]]><!--"
    reference = post(client, description=nasty, address_string="1 Elm St <b>").json()[0][
        "service_request_id"
    ]
    xml = client.get(f"/open311/v2/requests/{reference}.xml", params={"api_key": API_KEY})
    assert ET.fromstring(xml.content)[0].findtext("description") == nasty
    huge = client.post(
        "/open311/v2/requests.json",
        content=b"a=" + b"x" * 2_000_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 413
    upload = client.post(
        "/open311/v2/requests.json",
        data={"api_key": API_KEY, "service_code": "pothole"},
        files={"description": ("a.txt", b"file")},
    )
    assert upload.status_code == 400


# -- as processes on loopback --------------------------------------------------------------
@dataclasses.dataclass
class Servers:
    urls: list[str]
    db_url: str


def server_env(runtime: Runtime, data_dir: Path, db_url: str) -> dict[str, str]:
    return {
        "HOTLINE_DATA_DIR": str(data_dir),
        "HOTLINE_DATABASE_URL": db_url,
        "HOTLINE_SECRET_KEY": "shared-secret-of-both-instances",
        "HOTLINE_OPEN311_API_KEYS": API_KEY,
        "HOTLINE_BACKOFFICE": "local",
        "HOTLINE_DISPATCH_INTERVAL": "0.2",
    }


@pytest.fixture(
    scope="module",
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.postgres,
                NEEDS_POSTGRES,
            ],
        ),
    ],
)
def servers(
    request: pytest.FixtureRequest, runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    """One uvicorn process on SQLite; two on one PostgreSQL database (started one by one)."""
    tmp = tmp_path_factory.mktemp("open311-servers")
    data_dir = tmp / "data"  # the trained model is reused; the database is new
    shutil.copytree(
        runtime.settings.data_dir, data_dir, ignore=shutil.ignore_patterns("*.db*", "secret_key")
    )
    with fresh_database_url(request.param, tmp) as db_url:
        env = server_env(runtime, data_dir, db_url)
        with ExitStack() as stack:
            urls = [
                stack.enter_context(hotline_server(env, log=tmp / f"server-{i}.log", timeout=180))
                for i in range(1 if request.param == "sqlite" else 2)
            ]
            yield Servers(urls, db_url)


def test_georeport_lists_files_and_reads_back(servers: Servers) -> None:
    """georeport (PyPI) reads; it has no POST, so filing is its `requests` with the spec's form."""
    for i, url in enumerate(servers.urls):
        for fmt in ("json", "xml"):
            client = GeoReport(
                f"{url}/open311/v2", jurisdiction=JURISDICTION, api_key=API_KEY, output_format=fmt
            )
            services = client.get_service_list()
            assert "pothole" in {s["service_code"] for s in services}
            definition = client.get_service_definition("streetlight")
            assert "problem" in str(definition["attributes"])
            response = requests.post(
                f"{client.root_address}/requests.{fmt}",
                data={
                    "api_key": client.api_key,
                    "jurisdiction_id": client.jurisdiction,
                    "service_code": "streetlight",
                    "address_string": "3 Oak Avenue",
                    "description": f"dark for a week ({i}, {fmt})",
                    "attribute[problem]": "out",
                    "first_name": "Ann",
                    "last_name": "Lee",
                },
                timeout=30,
            )
            assert response.status_code == 200, response.text
            if fmt == "json":
                reference = response.json()[0]["service_request_id"]
            else:
                reference = ET.fromstring(response.content)[0].findtext("service_request_id")
            one = client.get_service_request(reference)
            assert (one["service_request_id"], one["status"], one["service_code"]) == (
                reference,
                "open",
                "streetlight",
            )
            found = client.get_service_requests(service_request_id=reference)
            found = found if isinstance(found, list) else [found]
            assert [r["service_request_id"] for r in found] == [reference]
            if fmt == "json":
                check_request(one)
            else:
                assert set(one) == REQUEST_FIELDS
    with Database(servers.db_url).sessions() as session:  # every instance sees every request
        filed = session.scalars(
            select(ServiceRequest.reference).where(ServiceRequest.service_code == "streetlight")
        ).all()
    assert len(filed) == 2 * len(servers.urls)


def test_civicbot_files_and_reads_back(servers: Servers) -> None:
    """civicbot (PyPI), a second client we did not write: it validates against our live
    service list and definition, sends every attribute it knows, files, and reads back."""
    url = servers.urls[0]
    endpoint = Endpoint(id="portalder", name="Portalder", base_url=f"{url}/open311/v2", write=True)
    http = HttpTransport(timeout=30, rate_limiter=RateLimiter(min_interval=0))
    client = Open311Client(endpoint, transport=http, jurisdiction_id=JURISDICTION)
    assert "pothole" in {s["service_code"] for s in client.list_services()}
    prepared = client.create_request(
        "streetlight",
        dry_run=False,
        confirm="SEND",
        api_key=API_KEY,
        validate_remote=True,
        address_string="5 Oak Avenue",
        description="flickering all night (civicbot)",
        attributes={"problem": "flickering", "pole_number": ""},  # blank: not given
    )
    (created,) = prepared.response
    reference = created["service_request_id"]
    assert "token" not in created
    one = client.get_request(reference)
    assert one is not None and (one["service_code"], one["status"]) == ("streetlight", "open")
    check_request(one)
    since = client.list_requests(service_code="streetlight", start_date="2020-01-01T00:00:00Z")
    assert reference in {r["service_request_id"] for r in since}  # start_date alone is fine


def test_our_client_files_into_our_server_and_status_comes_back(
    servers: Servers, tmp_path: Path
) -> None:
    """This process files with the Open311 connector; the server process is the back office."""
    with fresh_database_url("sqlite", tmp_path) as ours_url:
        ours = Database(ours_url)
        (request_id,) = file_requests(ours, 1, service_code="pothole")
        connector = Open311Connector(
            f"{servers.urls[0]}/open311/v2",
            api_key=API_KEY,
            jurisdiction=JURISDICTION,
            timeout=30,
        )
        dispatcher = Dispatcher(ours, connector)
        assert dispatcher.run_once() == 1
        with ours.sessions() as session:
            external_id = session.get(ServiceRequest, request_id).external_id
            row = session.scalar(select(OutboxMessage))
        assert row.status == "delivered" and external_id.startswith("REQ-")
        theirs = Database(servers.db_url)
        with theirs.transaction() as session:  # staff over there close it
            filed = service_requests.find(session, external_id)
            assert filed is not None and filed.channel == "open311"
            assert filed.fields["size"] == "large"
            service_requests.change_status(session, filed, "closed", "staff:bob", "Patched.")
        sync = StatusSync(ours, connector, interval=60)
        assert sync.run_once() == 1
        with ours.sessions() as session:
            assert session.get(ServiceRequest, request_id).status == "closed"
            (notice,) = session.scalars(select(Notice)).all()
        assert "Patched." in notice.text
        # a retry of the same row (e.g. after a lost answer) files nothing new over there
        with ours.transaction() as session:
            again = session.get(OutboxMessage, row.id)
            request = session.get(ServiceRequest, request_id)
            assert connector.deliver(again, request) == external_id
        theirs.engine.dispose()
        ours.engine.dispose()


SESSIONS: dict[str, str] = {}  # one web session cookie per resident, for any instance


def say(url: str, sender: str, text: str, message_id: str | None = None) -> dict[str, Any]:
    """A web resident's message to one instance; the session cookie goes to whichever."""
    body = {"text": text, "message_id": message_id or uuid.uuid4().hex}
    headers = {"Cookie": SESSIONS.get(sender, "-")}
    response = httpx.post(f"{url}/api/v1/messages", json=body, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    SESSIONS[sender] = "; ".join(f"{k}={v}" for k, v in response.cookies.items())
    return response.json()


def test_two_instances_keep_one_conversation_and_file_once(servers: Servers) -> None:
    if len(servers.urls) < 2:
        pytest.skip("two instances run on PostgreSQL")
    a, b = servers.urls
    sender = uuid.uuid4().hex
    say(a, sender, "there is a deep pothole outside 12 Elm Street that burst my tyre")
    asked = say(b, sender, "Message me here")
    assert "shall i send" in " ".join(m["text"] for m in asked["messages"]).lower()
    last = uuid.uuid4().hex
    filed = say(a, sender, "yes", message_id=last)
    reference = filed["filed_reference"]
    assert reference and reference.startswith("REQ-")
    repeated = say(b, sender, "yes", message_id=last)  # a retried webhook, other instance
    assert repeated == filed
    db = Database(servers.db_url)
    with db.sessions() as session:
        request = service_requests.find(session, reference)
        assert request is not None and request.street == "Elm Street"
        count = session.scalar(
            select(func.count())
            .select_from(ServiceRequest)
            .where(ServiceRequest.conversation_id == request.conversation_id)
        )
        assert count == 1
    wait_for(lambda: _delivered(db, request.id), 20, "the instances' dispatchers to deliver")
    with db.sessions() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.request_id == request.id))
        assert (row.status, row.delivered_to, row.attempts) == ("delivered", "local", 1)
    status = httpx.get(f"{b}/api/v1/requests/{reference}", timeout=10).json()
    assert status["status"] == "submitted"
    db.engine.dispose()


def _delivered(db: Database, request_id: int) -> bool:
    with db.sessions() as session:
        return (
            session.scalar(
                select(OutboxMessage.status).where(OutboxMessage.request_id == request_id)
            )
            == "delivered"
        )
