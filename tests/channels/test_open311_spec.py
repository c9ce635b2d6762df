"""Our Open311 server held to the letter of GeoReport v2, where clients we did not write found
it wanting: well-formed XML whatever was stored, discovery, dates as instants, blank optional
attributes, id or token, address_id, the error list everywhere, repeated parameters."""

from __future__ import annotations

import dataclasses
import logging
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot import service_requests
from bot.runtime import Runtime
from channels import open311
from channels.app import create_app

API_KEY = "spec-test-key"
ELM_STREET = {"lat": "47.6037", "long": "-122.3321"}


@pytest.fixture(scope="module")
def client(runtime: Runtime) -> TestClient:
    settings = runtime.settings.model_copy(update={"open311_api_keys": SecretStr(API_KEY)})
    return TestClient(create_app(runtime=dataclasses.replace(runtime, settings=settings)))


def post(client: TestClient, fmt: str = "json", path: str = "", **fields: str) -> httpx.Response:
    data = {"api_key": API_KEY, "service_code": "pothole", **ELM_STREET, **fields}
    return client.post(f"/open311/v2/requests.{fmt}{path}", data=data)


def filed(client: TestClient, **fields: str) -> str:
    response = post(client, **fields)
    assert response.status_code == 200, response.text
    return response.json()[0]["service_request_id"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1b[31m", "\x0c", "\ufffe"])
def test_control_characters_are_refused_on_input(client: TestClient, fmt: str, bad: str) -> None:
    response = post(client, fmt, description=f"hole{bad}here")
    assert response.status_code == 400
    if fmt == "xml":
        assert ET.fromstring(response.content)[0].findtext("code") == "400"
    else:
        assert "control character" in response.json()[0]["description"]


def test_stored_control_characters_never_break_the_xml(
    client: TestClient, runtime: Runtime
) -> None:
    """A staff note (or anything stored before the check) is dropped from XML, kept in JSON."""
    reference = filed(client, description="tabs\tand\nnewlines are fine")
    with runtime.db.transaction() as session:
        request = service_requests.find(session, reference)
        assert request is not None
        service_requests.change_status(session, request, "in_progress", "staff:bob", "on\x07it\x1b")
    for url in (f"/open311/v2/requests/{reference}.xml", "/open311/v2/requests.xml"):
        for params in ({}, {"api_key": API_KEY}):
            body = client.get(url, params=params).content
            tree = ET.fromstring(body)  # parses: the public list included
            mine = [r for r in tree if r.findtext("service_request_id") == reference]
            assert mine[0].findtext("status_notes") == "onit"
    (one,) = client.get(f"/open311/v2/requests/{reference}.json").json()
    assert one["status_notes"] == "on\x07it\x1b"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_discovery_document(client: TestClient, fmt: str) -> None:
    response = client.get(f"/open311/discovery.{fmt}")
    assert response.status_code == 200
    if fmt == "json":
        document = response.json()
        (endpoint,) = document["endpoints"]
        formats = endpoint["formats"]
    else:
        tree = ET.fromstring(response.content)
        assert tree.tag == "discovery"
        endpoint_xml = tree.find("endpoints/endpoint")
        assert endpoint_xml is not None
        endpoint = {child.tag: child.text for child in endpoint_xml}
        formats = [f.text for f in endpoint_xml.iter("format")]
        document = {child.tag: child.text for child in tree}
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(document)
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and endpoint["type"] == "production"
    assert set(formats) == {"text/xml", "application/json"}
    assert client.get("/open311/discovery.csv").status_code == 404


def test_dates_are_compared_as_instants(client: TestClient) -> None:
    """A window given at -08:00 around now holds a request filed now (on SQLite too)."""
    reference = filed(client, description="filed at a known moment")
    pacific = timezone(timedelta(hours=-8))
    now = datetime.now(UTC).astimezone(pacific)
    window = {
        "start_date": (now - timedelta(minutes=2)).isoformat(timespec="seconds"),
        "end_date": (now + timedelta(minutes=2)).isoformat(timespec="seconds"),
    }
    listed = client.get("/open311/v2/requests.json", params=window).json()
    assert reference in {r["service_request_id"] for r in listed}
    earlier = {
        "start_date": (now - timedelta(hours=3)).isoformat(timespec="seconds"),
        "end_date": (now - timedelta(hours=2)).isoformat(timespec="seconds"),
    }
    listed = client.get("/open311/v2/requests.json", params=earlier).json()
    assert reference not in {r["service_request_id"] for r in listed}


def test_start_date_alone_may_reach_past_90_days(client: TestClient) -> None:
    reference = filed(client, description="recent enough")
    start = (datetime.now(UTC) - timedelta(days=120)).isoformat(timespec="seconds")
    response = client.get("/open311/v2/requests.json", params={"start_date": start})
    assert response.status_code == 200, response.text
    assert reference in {r["service_request_id"] for r in response.json()}
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat(timespec="seconds")
    ahead = client.get("/open311/v2/requests.json", params={"start_date": later}).json()
    assert reference not in {r["service_request_id"] for r in ahead}
    both = {"start_date": start, "end_date": datetime.now(UTC).isoformat()}
    assert client.get("/open311/v2/requests.json", params=both).status_code == 400


def test_blank_optional_attributes_are_not_given(client: TestClient, runtime: Runtime) -> None:
    """FixMyStreet-style clients send every attribute, the unused ones empty."""
    reference = filed(client, description="blank size", **{"attribute[size]": ""})
    with runtime.db.sessions() as session:
        request = service_requests.find(session, reference)
        assert request is not None and "size" not in (request.fields or {})
    refused = post(client, **{"attribute[size]": "gigantic"})
    assert refused.status_code == 400
    required = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": API_KEY,
            "service_code": "missed_collection",
            "address_string": "4 Elm Street",
            "attribute[bin_type]": "",
        },
    )
    assert required.status_code == 400
    assert "bin_type" in required.json()[0]["description"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_post_answers_the_id_and_no_token(client: TestClient, fmt: str) -> None:
    response = post(client, fmt, description="id, not token")
    assert response.status_code == 200
    if fmt == "json":
        (created,) = response.json()
    else:
        created = {child.tag: child.text for child in ET.fromstring(response.content)[0]}
    assert created["service_request_id"].startswith("REQ-")
    assert "token" not in created


def test_address_id_round_trip(client: TestClient) -> None:
    reference = client.post(
        "/open311/v2/requests.json",
        data={"api_key": API_KEY, "service_code": "pothole", "address_id": "PARCEL-8812"},
    ).json()[0]["service_request_id"]
    (full,) = client.get(
        f"/open311/v2/requests/{reference}.json", params={"api_key": API_KEY}
    ).json()
    assert (full["address_id"], full["address"]) == ("PARCEL-8812", None)
    (public,) = client.get(f"/open311/v2/requests/{reference}.json").json()
    assert public["address_id"] is None  # a location: for key holders only, like the address


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("GET", "/open311/v2/nothing.json", 404),
        ("GET", "/open311/v2/nothing.xml", 404),
        ("GET", "/open311/v2/requests/a/b.xml", 404),
        ("DELETE", "/open311/v2/requests.json", 405),
        ("PUT", "/open311/v2/services.xml", 405),
        ("POST", "/open311/v2/services.json", 405),
    ],
)
def test_every_error_is_the_spec_error_list(
    client: TestClient, method: str, url: str, status: int
) -> None:
    response = client.request(method, url)
    assert response.status_code == status
    if url.endswith(".xml"):
        tree = ET.fromstring(response.content)
        assert tree.tag == "errors" and tree[0].findtext("code") == str(status)
        assert tree[0].findtext("description")
    else:
        (error,) = response.json()
        assert set(error) == {"code", "description"} and error["code"] == status
    assert client.get("/no-such-page").json() == {"detail": "Not Found"}  # elsewhere: FastAPI's


def test_repeated_parameters_are_all_kept(client: TestClient, runtime: Runtime) -> None:
    pothole = filed(client, description="repeat a")
    light = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": API_KEY,
            "service_code": "streetlight",
            "address_string": "3 Oak Avenue",
            "attribute[problem]": "out",
        },
    ).json()[0]["service_request_id"]
    with runtime.db.transaction() as session:
        request = service_requests.find(session, light)
        assert request is not None
        service_requests.change_status(session, request, "closed", "staff:bob", "Fixed.")
    for query in (
        "service_code=pothole&service_code=streetlight",
        "service_code=pothole,streetlight",
    ):
        listed = client.get(f"/open311/v2/requests.json?{query}").json()
        assert {pothole, light} <= {r["service_request_id"] for r in listed}, query
    both = client.get("/open311/v2/requests.json?status=open&status=closed").json()
    assert {pothole, light} <= {r["service_request_id"] for r in both}
    ids = client.get(
        f"/open311/v2/requests.json?service_request_id={pothole}&service_request_id={light}"
    ).json()
    assert {r["service_request_id"] for r in ids} == {pothole, light}


def test_jurisdiction_id_in_a_posts_query_string(client: TestClient, runtime: Runtime) -> None:
    assert post(client, path="?jurisdiction_id=elsewhere").status_code == 404
    ours = runtime.settings.jurisdiction_id
    assert post(client, path=f"?jurisdiction_id={ours}").status_code == 200


def test_a_reused_idempotency_key_with_another_body_is_refused(client: TestClient) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    data = {"api_key": API_KEY, "service_code": "pothole", **ELM_STREET}
    first = client.post("/open311/v2/requests.json", data={**data, "description": "a"}, headers=key)
    again = client.post("/open311/v2/requests.json", data={**data, "description": "a"}, headers=key)
    assert first.json() == again.json()
    other = client.post("/open311/v2/requests.json", data={**data, "description": "b"}, headers=key)
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()[0]["description"]


def test_the_api_key_never_reaches_the_access_log(caplog: pytest.LogCaptureFixture) -> None:
    access = logging.getLogger("uvicorn.access")
    assert open311.ACCESS_LOG_FILTER in access.filters
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", f"/open311/v2/requests.json?api_key={API_KEY}&x=1", "1.1", 200),
        None,
    )
    assert open311.ACCESS_LOG_FILTER.filter(record)
    line = record.getMessage()
    assert API_KEY not in line and "api_key=[hidden]&x=1" in line
