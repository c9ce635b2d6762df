"""Open311 GeoReport v2 server: our catalogue and requests for existing Open311 tools.

Routes follow the spec's order: service list, service definition, POST a request, token,
request list, one request. Every route answers JSON or XML (``.json``/``.xml``); errors use
the spec's list of ``{code, description}``. A ``jurisdiction_id`` other than ours is refused.
POST needs an api_key from HOTLINE_OPEN311_API_KEYS and files through
bot.service_requests.file_request (so the request gets an outbox row like any other), with
our reference as service_request_id; an ``Idempotency-Key`` header makes a retried POST
return the first request instead of filing another. Reading is public, but the description,
address, location and media of a request are shown only to callers with an api_key: residents
write them, and they may say who they are.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException

from bot import service_requests
from bot.backoffice.models import Open311Post
from bot.catalogue import ServiceField, ServiceType
from bot.runtime import Runtime
from bot.storage.models import ServiceRequest
from channels.deps import RuntimeDep
from channels.request_limits import validation_error

router = APIRouter(prefix="/open311/v2", tags=["open311"])
discovery_router = APIRouter(prefix="/open311", tags=["open311"])

FORMATS = ("json", "xml")
MAX_IDS = 100
MAX_RESULTS = 1000
MAX_WINDOW = timedelta(days=90)
CLOSED = ("closed", "rejected")
DATATYPES = {"choice": "singlevaluelist", "number": "number", "text": "string"}
XML_ITEMS = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
# Characters XML 1.0 cannot carry at all: refused on the way in, dropped on the way out.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-01T00:00:00Z"  # when the routes or fields below last changed


# -- what goes out --------------------------------------------------------------------------
class Open311Error(BaseModel):
    code: int
    description: str


class ServiceOut(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: Literal["realtime", "batch", "blackbox"] = "realtime"
    keywords: str
    group: str


class AttributeValueOut(BaseModel):
    key: str
    name: str


class AttributeOut(BaseModel):
    variable: bool = True
    code: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool
    datatype_description: str | None
    order: int
    description: str
    values: list[AttributeValueOut] = Field(default_factory=list)


class ServiceDefinitionOut(BaseModel):
    service_code: str
    attributes: list[AttributeOut]


class RequestCreatedOut(BaseModel):
    """The spec's answer to a POST: an id, or a token "if the id is not ready" (never both).

    We file at once, so we give the id; tokens still resolve for clients that hold one.
    """

    service_request_id: str
    service_notice: str | None = None
    account_id: str | None = None


class TokenOut(BaseModel):
    service_request_id: str | None
    token: str


class RequestOut(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str
    service_code: str
    description: str | None
    agency_responsible: str | None
    service_notice: str | None = None
    requested_datetime: str
    updated_datetime: str
    expected_datetime: str | None = None
    address: str | None
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None
    long: float | None
    media_url: str | None


class EndpointOut(BaseModel):
    specification: str = SPECIFICATION
    url: str
    changeset: str = CHANGESET
    type: Literal["production", "test"] = "production"
    formats: list[str] = Field(default_factory=lambda: ["text/xml", "application/json"])


class DiscoveryOut(BaseModel):
    changeset: str = CHANGESET
    contact: str
    key_service: str
    endpoints: list[EndpointOut]


# -- what comes in --------------------------------------------------------------------------
class RequestIn(BaseModel):
    """A POST requests body (form-encoded), attribute[code] fields gathered in ``attributes``."""

    jurisdiction_id: str | None = Field(None, max_length=200)
    api_key: str | None = Field(None, max_length=200)
    service_code: str | None = Field(None, max_length=64)
    lat: float | None = Field(None, ge=-90, le=90)
    long: float | None = Field(None, ge=-180, le=180)
    address_string: str | None = Field(None, max_length=300)
    address_id: str | None = Field(None, max_length=120)
    email: str | None = Field(None, max_length=200)
    device_id: str | None = Field(None, max_length=200)
    account_id: str | None = Field(None, max_length=200)
    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=40)
    description: str | None = Field(None, max_length=4000)
    media_url: str | None = Field(None, max_length=1000, pattern=r"^https?://\S+$")
    attributes: dict[str, str | list[str]] = Field(default_factory=dict)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("lat", "long")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class Open311Failure(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


# -- rendering ------------------------------------------------------------------------------
def _xml_value(parent: ET.Element, tag: str, value: Any) -> None:
    element = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for key, inner in value.items():
            _xml_value(element, key, inner)
    elif isinstance(value, list):
        for inner in value:
            _xml_value(element, XML_ITEMS.get(tag, "item"), inner)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = NOT_XML.sub("", str(value))  # stored before we refused them


def render(
    fmt: str, root: str, item: str | None, payload: BaseModel | list[BaseModel], status: int = 200
) -> Response:
    """JSON as the spec shows it; XML as <root><item>...</item></root> (or <root>... alone)."""
    data = (
        [p.model_dump(mode="json") for p in payload]
        if isinstance(payload, list)
        else payload.model_dump(mode="json")
    )
    if fmt == "json":
        return JSONResponse(data, status_code=status)
    element = ET.Element(root)
    for entry in data if isinstance(data, list) else [data]:
        if item is None:
            for key, value in entry.items():
                _xml_value(element, key, value)
        else:
            _xml_value(element, item, entry)
    body = ET.tostring(element, encoding="unicode", xml_declaration=True)
    return Response(body, status_code=status, media_type="text/xml; charset=utf-8")


def error(fmt: str, code: int, description: str) -> Response:
    return render(
        fmt if fmt in FORMATS else "json",
        "errors",
        "error",
        [Open311Error(code=code, description=description)],
        status=code,
    )


# -- checks ---------------------------------------------------------------------------------
def _check(rt: Runtime, fmt: str, jurisdiction_id: str | None) -> None:
    if fmt not in FORMATS:
        raise Open311Failure(404, "format not supported; use .json or .xml")
    if jurisdiction_id and jurisdiction_id != rt.settings.jurisdiction_id:
        raise Open311Failure(404, "jurisdiction_id not found")


def _api_keys(rt: Runtime) -> list[str]:
    keys = rt.settings.open311_api_keys
    return [k.strip() for k in keys.get_secret_value().split(",") if k.strip()] if keys else []


def _client(rt: Runtime, api_key: str | None) -> str | None:
    """A stable, non-secret id of the api_key's holder, or None if the key is not valid."""
    if not api_key:
        return None
    if not any(hmac.compare_digest(api_key.encode(), k.encode()) for k in _api_keys(rt)):
        return None
    return hashlib.sha256(api_key.encode()).hexdigest()[:32]


def _w3c(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds")


def _parse_w3c(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise Open311Failure(400, f"{name} is not a w3c date-time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _service(rt: Runtime, code: str | None) -> ServiceType:
    if not code:
        raise Open311Failure(400, "service_code not provided")
    service = rt.catalogue.get(code)
    if service is None:
        raise Open311Failure(404, "service_code not found")
    return service


def _attribute(field: ServiceField, order: int) -> AttributeOut:
    return AttributeOut(
        code=field.name,
        datatype=DATATYPES[field.kind],
        required=field.required,
        datatype_description=None,
        order=order,
        description=field.prompt,
        values=[AttributeValueOut(key=c, name=c.capitalize()) for c in field.choices],
    )


def token_for(rt: Runtime, reference: str) -> str:
    """A token that names its request and cannot be forged: no table needed to resolve it."""
    return f"{reference}-{rt.hasher('open311-token:' + reference)[:20]}"


def _request_out(rt: Runtime, request: ServiceRequest, full: bool) -> RequestOut:
    service = rt.catalogue.get(request.service_code)
    media = (request.fields or {}).get("media_url")
    return RequestOut(
        service_request_id=request.reference or "",
        status="closed" if request.status in CLOSED else "open",
        status_notes=request.status_note,
        service_name=service.name if service else request.service_code,
        service_code=request.service_code,
        description=request.description if full else None,
        agency_responsible=service.department if service else None,
        requested_datetime=_w3c(request.created_at),
        updated_datetime=_w3c(request.updated_at),
        address=request.address if full else None,
        address_id=str((request.fields or {}).get("address_id") or "") or None if full else None,
        lat=request.lat if full else None,
        long=request.lon if full else None,
        media_url=str(media) if full and media else None,
    )


# -- routes, in the spec's order ------------------------------------------------------------
@router.get("/services.{fmt}")
def list_services(
    fmt: str, rt: RuntimeDep, jurisdiction_id: Annotated[str | None, Query()] = None
) -> Response:
    try:
        _check(rt, fmt, jurisdiction_id)
    except Open311Failure as exc:
        return error(fmt, exc.code, exc.description)
    services = [
        ServiceOut(
            service_code=s.code,
            service_name=s.name,
            description=s.description,
            metadata=bool(s.fields),
            keywords=", ".join(s.keywords),
            group=s.group,
        )
        for s in rt.catalogue.services
    ]
    return render(fmt, "services", "service", services)


@router.get("/services/{service_code}.{fmt}")
def service_definition(
    service_code: str,
    fmt: str,
    rt: RuntimeDep,
    jurisdiction_id: Annotated[str | None, Query()] = None,
) -> Response:
    try:
        _check(rt, fmt, jurisdiction_id)
        service = _service(rt, service_code)
    except Open311Failure as exc:
        return error(fmt, exc.code, exc.description)
    definition = ServiceDefinitionOut(
        service_code=service.code,
        attributes=[_attribute(f, i) for i, f in enumerate(service.fields, 1)],
    )
    return render(fmt, "service_definition", None, definition)


def _parse_form(form: Any) -> RequestIn:
    plain: dict[str, Any] = {}
    attributes: dict[str, str | list[str]] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise Open311Failure(400, f"{key[:40]} must be text, not a file")
        if NOT_XML.search(key) or NOT_XML.search(value):
            name = NOT_XML.sub("", key)[:40]
            raise Open311Failure(400, f"{name} holds a control character XML cannot carry")
        if key.startswith("attribute[") and key.endswith("[]"):
            code = key[len("attribute[") : -3]
            listed = attributes.setdefault(code, [])
            if isinstance(listed, list):
                listed.append(value)
        elif key.startswith("attribute[") and key.endswith("]"):
            attributes[key[len("attribute[") : -1]] = value
        else:
            plain[key] = value
    try:
        return RequestIn.model_validate({**plain, "attributes": attributes})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise Open311Failure(400, f"{where}: {first['msg']}") from exc


def _fields(service: ServiceType, given: dict[str, str | list[str]]) -> dict[str, Any]:
    known = {f.name: f for f in service.fields}
    fields: dict[str, Any] = {}
    for code, value in given.items():
        field = known.get(code)
        if field is None:
            raise Open311Failure(400, f"attribute {code[:40]!r} is not defined for this service")
        if isinstance(value, list):
            raise Open311Failure(400, f"attribute {code} takes one value")
        value = value.strip()
        if not value:  # clients that send every attribute send the unused ones empty
            continue
        if field.kind == "choice" and value.lower() not in field.choices:
            raise Open311Failure(
                400, f"attribute {code} must be one of: {', '.join(field.choices)}"
            )
        if field.kind == "number":
            try:
                number = float(value)
            except ValueError as exc:
                raise Open311Failure(400, f"attribute {code} must be a number") from exc
            if not math.isfinite(number):
                raise Open311Failure(400, f"attribute {code} must be a number")
        fields[code] = value.lower() if field.kind == "choice" else value[:500]
    missing = [f.name for f in service.fields if f.required and f.name not in fields]
    if missing:
        raise Open311Failure(400, f"required service attribute missing: {', '.join(missing)}")
    return fields


class KeyReused(Open311Failure):
    def __init__(self) -> None:
        super().__init__(422, "Idempotency-Key was already used for a different request")


def _same_post(done: Open311Post, digest: str) -> None:
    if done.body_hash and not hmac.compare_digest(done.body_hash, digest):
        raise KeyReused()


def _file(
    rt: Runtime, body: RequestIn, client: str, key: str | None, digest: str = ""
) -> ServiceRequest:
    service = _service(rt, body.service_code)
    if (body.lat is None) != (body.long is None):
        raise Open311Failure(400, "lat and long must be given together")
    if body.lat is None and not body.address_string and not body.address_id:
        raise Open311Failure(400, "(lat & long) or address_string or address_id not provided")
    fields = _fields(service, body.attributes)
    if body.media_url:
        fields["media_url"] = body.media_url
    if body.address_id:
        fields["address_id"] = body.address_id
    street = district = None
    if body.lat is not None and body.long is not None:
        found = rt.city.nearest(body.lat, body.long)
        if found is None:
            raise Open311Failure(400, "lat and long are outside the city")
        street, district = found[0].name, found[1].name
    elif body.address_string:
        named = rt.city.find_street(body.address_string)
        street, district = (named.name, named.district) if named else (None, None)
    request = ServiceRequest(
        service_code=service.code,
        description=body.description or "",
        address=body.address_string,
        street=street,
        district=district,
        lat=body.lat,
        lon=body.long,
        fields=fields,
        contact_preference="none",
        contact_phone_hash=rt.hasher(body.phone) if body.phone else None,
        channel="open311",
        language=rt.settings.default_language,
    )
    actor = f"open311:{client[:8]}"
    try:
        with rt.db.transaction() as session:
            if key:
                done = session.get(Open311Post, (client, key))
                if done is not None:
                    _same_post(done, digest)
                    existing = session.get(ServiceRequest, done.request_id)
                    assert existing is not None
                    return existing
            service_requests.file_request(session, request, actor)
            if key:
                session.add(
                    Open311Post(
                        client=client,
                        idempotency_key=key,
                        request_id=request.id,
                        body_hash=digest,
                    )
                )
        return request
    except IntegrityError:  # the same key, filed by a concurrent retry a moment ago
        if not key:
            raise
        with rt.db.sessions() as session:
            done = session.get(Open311Post, (client, key))
            if done is None:
                raise
            _same_post(done, digest)
            existing = session.get(ServiceRequest, done.request_id)
            assert existing is not None
            return existing


@router.post("/requests.{fmt}")
async def create_request(fmt: str, request: Request, rt: RuntimeDep) -> Response:
    try:
        if fmt not in FORMATS:
            raise Open311Failure(404, "format not supported; use .json or .xml")
        form = await request.form()
        body = _parse_form(form)
        client = _client(rt, body.api_key)
        if client is None:
            raise Open311Failure(403, "api_key was not provided or is not valid")
        # Some clients put jurisdiction_id in the POST's query string rather than its body.
        _check(rt, fmt, body.jurisdiction_id or _one(request, "jurisdiction_id"))
        key = (request.headers.get("idempotency-key") or "").strip()[:200] or None
        digest = hashlib.sha256(
            repr(sorted((k, str(v)) for k, v in form.multi_items())).encode()
        ).hexdigest()
        filed = await run_in_threadpool(_file, rt, body, client, key, digest)
    except Open311Failure as exc:
        return error(fmt, exc.code, exc.description)
    created = RequestCreatedOut(
        service_request_id=filed.reference or "", account_id=body.account_id
    )
    return render(fmt, "service_requests", "request", [created])


@router.get("/tokens/{token}.{fmt}")
def request_id_from_token(
    token: str,
    fmt: str,
    rt: RuntimeDep,
    jurisdiction_id: Annotated[str | None, Query()] = None,
) -> Response:
    try:
        _check(rt, fmt, jurisdiction_id)
        reference, _, _ = token.rpartition("-")
        if not reference or not hmac.compare_digest(token_for(rt, reference), token):
            raise Open311Failure(404, "token not found")
    except Open311Failure as exc:
        return error(fmt, exc.code, exc.description)
    return render(
        fmt, "service_requests", "request", [TokenOut(service_request_id=reference, token=token)]
    )


def _one(request: Request, name: str) -> str | None:
    return (request.query_params.get(name) or "").strip()[:200] or None


def _many(request: Request, name: str) -> list[str]:
    """A parameter given as a comma list, repeated (a=1&a=2), or both."""
    values = request.query_params.getlist(name)
    if sum(len(v) for v in values) > 4000:
        raise Open311Failure(400, f"{name} is too long")
    return [part.strip() for v in values for part in v.split(",") if part.strip()]


@router.get("/requests.{fmt}")
def list_requests(fmt: str, request: Request, rt: RuntimeDep) -> Response:
    try:
        _check(rt, fmt, _one(request, "jurisdiction_id"))
        query = select(ServiceRequest).where(ServiceRequest.reference.is_not(None))
        ids = _many(request, "service_request_id")
        if ids:  # overrides every other filter, as the spec says
            if len(ids) > MAX_IDS:
                raise Open311Failure(400, f"at most {MAX_IDS} service_request_id at once")
            query = query.where(
                ServiceRequest.reference.in_(
                    [service_requests.normalise_reference(i[:40]) for i in ids]
                )
            )
        else:
            query = _filtered(
                query,
                _many(request, "service_code"),
                _one(request, "start_date"),
                _one(request, "end_date"),
                _many(request, "status"),
            )
    except Open311Failure as exc:
        return error(fmt, exc.code, exc.description)
    full = _client(rt, _one(request, "api_key")) is not None
    with rt.db.sessions() as session:
        found = session.scalars(query.order_by(ServiceRequest.id.desc()).limit(MAX_RESULTS))
        out = [_request_out(rt, r, full) for r in found]
    return render(fmt, "service_requests", "request", out)


def _filtered(
    query: Any,
    service_codes: list[str],
    start_date: str | None,
    end_date: str | None,
    statuses: list[str],
) -> Any:
    """The spec's date rules: 90 days at most when both ends are given; with neither, the
    last 90 days; with one alone, everything from (or up to) it, 1000 requests at most.
    Compared as instants, in UTC, whatever offset was given (SQLite keeps UTC wall time)."""
    start = _parse_w3c(start_date, "start_date")
    end = _parse_w3c(end_date, "end_date")
    if start and end:
        if start > end:
            raise Open311Failure(400, "start_date is after end_date")
        if end - start > MAX_WINDOW:
            raise Open311Failure(400, "start_date to end_date may not span more than 90 days")
    elif start is None and end is None:
        start = datetime.now(UTC) - MAX_WINDOW
    if start is not None:
        query = query.where(ServiceRequest.created_at >= _stored(start))
    if end is not None:
        query = query.where(ServiceRequest.created_at <= _stored(end))
    if service_codes:
        query = query.where(ServiceRequest.service_code.in_(service_codes))
    if statuses:
        wanted = {s.lower() for s in statuses}
        if not wanted <= {"open", "closed"}:
            raise Open311Failure(400, "status must be open, closed or both")
        if wanted == {"open"}:
            query = query.where(ServiceRequest.status.not_in(CLOSED))
        elif wanted == {"closed"}:
            query = query.where(ServiceRequest.status.in_(CLOSED))
    return query


def _stored(moment: datetime) -> datetime:
    """A moment as the database compares it: UTC (SQLite compares the text of wall time)."""
    return moment.astimezone(UTC)


@router.get("/requests/{service_request_id}.{fmt}")
def get_request(
    service_request_id: str,
    fmt: str,
    rt: RuntimeDep,
    jurisdiction_id: Annotated[str | None, Query()] = None,
    api_key: Annotated[str | None, Query()] = None,
) -> Response:
    try:
        _check(rt, fmt, jurisdiction_id)
        with rt.db.sessions() as session:
            found = service_requests.find(session, service_request_id[:40])
            if found is None:
                raise Open311Failure(404, "service_request_id not found")
            out = _request_out(rt, found, _client(rt, (api_key or "")[:200]) is not None)
    except Open311Failure as exc:
        return error(fmt, exc.code, exc.description)
    return render(fmt, "service_requests", "request", [out])


# -- service discovery (its own path, beside the versioned endpoint) ------------------------
@discovery_router.get("/discovery.{fmt}")
def discovery(fmt: str, request: Request, rt: RuntimeDep) -> Response:
    """Where our GeoReport v2 endpoint is and which formats it speaks, as the spec asks."""
    if fmt not in FORMATS:
        return error(fmt, 404, "format not supported; use .json or .xml")
    base = (rt.settings.public_url or str(request.base_url)).rstrip("/")
    document = DiscoveryOut(
        contact=f"Open311 endpoint of {rt.settings.jurisdiction_id}",
        key_service=f"{base}/staff",
        endpoints=[EndpointOut(url=f"{base}/open311/v2")],
    )
    return render(fmt, "discovery", None, document)


class RedactKeys(logging.Filter):
    """Keeps ``api_key=...`` out of the access log: GETs may carry it in the query string."""

    _key = re.compile(r"(api_key=)[^&\s\"]*", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._key.sub(r"\1[hidden]", a) if isinstance(a, str) else a for a in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = self._key.sub(r"\1[hidden]", record.msg)
        return True


ACCESS_LOG_FILTER = RedactKeys()


def _fmt_of(path: str) -> str:
    return "xml" if path.endswith(".xml") else "json"


def install(app: FastAPI) -> None:
    """Our routes, and the spec's error list for every error under /open311 (404 and 405 of
    routes that do not exist included); other paths keep FastAPI's own answers."""
    app.include_router(router)
    app.include_router(discovery_router)
    logging.getLogger("uvicorn.access").addFilter(ACCESS_LOG_FILTER)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if not request.url.path.startswith("/open311/"):
            return await http_exception_handler(request, exc)
        answer = error(_fmt_of(request.url.path), exc.status_code, str(exc.detail))
        answer.headers.update(exc.headers or {})
        return answer

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if not request.url.path.startswith("/open311/"):
            return await validation_error(request, exc)
        return error(_fmt_of(request.url.path), 400, "the request's parameters are not valid")
