"""A connector that files our requests into a city's Open311 GeoReport v2 endpoint.

GeoReport v2 makes XML the required format and JSON optional, so we speak both: the format
is fixed by setting, or read from the back office's discovery document, or found by asking
``services.json`` then ``services.xml`` (a GET, safe to try). Whatever format an answer comes
in, a 2xx is read, never retried.

Filing is a form-encoded ``POST requests.{fmt}``. The ``Idempotency-Key`` header carries the
outbox row's key, so a back office that honours it never files a retry twice. Once a POST may
have been accepted we do not send it again blindly: a token is kept and only
``tokens/{token}`` is asked after that, however often that look-up fails; and a POST whose
answer was lost (timed out after sending) is looked up in ``requests`` by what we sent before
anything is filed again.
"""

from __future__ import annotations

import json
import logging
import threading
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx

from bot.backoffice.connector import (
    AwaitingToken,
    PermanentError,
    RetryableError,
    StatusChange,
)
from bot.storage.models import OutboxMessage, ServiceRequest

log = logging.getLogger(__name__)

Format = Literal["json", "xml"]
MAX_DESCRIPTION = 4000  # the spec's limit
POLL_BATCH = 50
RETRYABLE_STATUS = {408, 409, 425, 429}
# Gateways answer these after the request may have reached the back office behind them.
MAYBE_FILED_STATUS = {502, 504}
LOOKUP_SLACK = timedelta(minutes=5)  # around the row's life when looking a lost POST up
# Open311 says only open|closed; some servers report finer states, which we keep.
STATUS_MAP = {
    "open": "acknowledged",
    "acknowledged": "acknowledged",
    "in_progress": "in_progress",
    "in progress": "in_progress",
    "closed": "closed",
    "rejected": "rejected",
}
# XML elements whose children are a list (everything else is an object of named children).
XML_LISTS = {
    "service_requests",
    "errors",
    "services",
    "endpoints",
    "formats",
    "attributes",
    "values",
}
GEOREPORT_V2 = "georeport_v2"


class Open311Connector:
    name = "open311"

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None,
        jurisdiction: str | None = None,
        service_map: dict[str, str] | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        format: Literal["auto", "json", "xml"] = "auto",
        discovery_url: str | None = None,
    ) -> None:
        self.base = url.rstrip("/")
        self.api_key = api_key
        self.jurisdiction = jurisdiction
        self.service_map = service_map or {}
        self.client = httpx.Client(timeout=timeout, transport=transport)
        self.discovery_url = discovery_url
        self._format: Format | None = None if format == "auto" else format
        self._format_lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    # -- which format ---------------------------------------------------------------------
    @property
    def format(self) -> Format:
        """The format this back office speaks, found once (retryable while it cannot be)."""
        with self._format_lock:
            if self._format is None:
                self._format = self._discover() if self.discovery_url else self._probe()
                log.info("open311: the back office speaks %s", self._format)
            return self._format

    def _discover(self) -> Format:
        assert self.discovery_url is not None
        document = _read(self._call("GET", self.discovery_url))
        endpoints = document.get("endpoints") if isinstance(document, dict) else None
        if not isinstance(endpoints, list):
            raise RetryableError("open311: the discovery document lists no endpoints")
        georeport = [
            e
            for e in endpoints
            if isinstance(e, dict)
            and GEOREPORT_V2 in str(e.get("specification", "")).lower().replace("/", "_")
        ]
        ours = [e for e in georeport if str(e.get("url", "")).rstrip("/") == self.base]
        chosen = (ours or georeport or [{}])[0]
        formats = chosen.get("formats") or []
        formats = formats if isinstance(formats, list) else [formats]
        return "json" if any("json" in str(f).lower() for f in formats) else "xml"

    def _probe(self) -> Format:
        """JSON if services.json answers with JSON, else XML (the format the spec requires)."""
        try:
            answer = self._call("GET", f"{self.base}/services.json", params=self._jurisdiction())
            if _looks_like(answer) == "json":
                return "json"
        except PermanentError:
            pass
        return "xml"

    # -- filing ---------------------------------------------------------------------------
    def deliver(self, row: OutboxMessage, request: ServiceRequest) -> str | None:
        if row.external_token:
            return self._resolve_token(row.external_token)
        if row.maybe_filed:
            try:
                found = self.find(row, request)
            except PermanentError as exc:  # it cannot list requests: the key must do
                log.warning("outbox %s: could not look it up (%s)", row.id, exc)
                found = None
            if found is not None:
                log.info(
                    "outbox %s: found at the back office as %s, not filed again", row.id, found
                )
                return found
        response = self._call(
            "POST",
            self._url("requests"),
            data=self.form(request),
            headers={"Idempotency-Key": row.idempotency_key},
            sending=True,
        )
        try:
            item = _first(_read(response))
        except RetryableError:
            log.warning(
                "outbox %s: filed (HTTP %s), answer unreadable", row.id, response.status_code
            )
            return None  # filed all the same: a 2xx is never sent again
        if item.get("service_request_id"):
            return str(item["service_request_id"])
        if item.get("token"):
            return self._resolve_token(str(item["token"]))
        log.warning(
            "outbox %s: filed (HTTP %s), no id or token given", row.id, response.status_code
        )
        return None

    def form(self, request: ServiceRequest) -> dict[str, str]:
        """The POST body: the spec's fields, our extra fields as attribute[code]."""
        data: dict[str, str] = {
            "service_code": self.service_map.get(request.service_code, request.service_code),
            "description": (request.description or "")[:MAX_DESCRIPTION],
        }
        if self.api_key:
            data["api_key"] = self.api_key
        if self.jurisdiction:
            data["jurisdiction_id"] = self.jurisdiction
        if request.lat is not None and request.lon is not None:
            data["lat"], data["long"] = str(request.lat), str(request.lon)
        if request.address:
            data["address_string"] = request.address
        for code, value in (request.fields or {}).items():
            if code in ("media_url", "address_id"):
                data[code] = str(value)
            elif isinstance(value, str | int | float) and not isinstance(value, bool):
                data[f"attribute[{code}]"] = str(value)
        if not {"lat", "address_string", "address_id"} & set(data):
            raise PermanentError("the request has neither a location nor an address")
        return data

    def _resolve_token(self, token: str) -> str:
        """The id of a token; any failure keeps the token, so the POST is never sent again."""
        try:
            response = self._call("GET", self._url(f"tokens/{token}"), params=self._jurisdiction())
            item = _first(_read(response)) if response.status_code != 404 else {}
        except (RetryableError, PermanentError) as exc:
            raise AwaitingToken(token, str(exc)) from exc
        if item.get("service_request_id"):
            return str(item["service_request_id"])
        raise AwaitingToken(token)

    def find(self, row: OutboxMessage, request: ServiceRequest) -> str | None:
        """The back office's id of a request we may have filed already, if it shows it.

        GeoReport v2 has no look-up by idempotency key, so we list the requests of that
        service filed since the row was written and match what we sent: description and
        address (or position). None if nothing matches, or more than one thing does.
        """
        sent = self.form(request)
        start = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        params = {
            "service_code": sent["service_code"],
            "start_date": _w3c(start - LOOKUP_SLACK),
            "end_date": _w3c(datetime.now(UTC) + LOOKUP_SLACK),
            **self._jurisdiction(),
        }
        if self.api_key:  # back offices show descriptions and addresses only to key holders
            params["api_key"] = self.api_key
        items = _read(self._call("GET", self._url("requests"), params=params))
        matches = [
            str(item["service_request_id"])
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and item.get("service_request_id") and _same(item, sent)
        ]
        return matches[0] if len(matches) == 1 else None

    # -- status ---------------------------------------------------------------------------
    def poll_status(self, external_ids: list[str]) -> list[StatusChange]:
        changes: list[StatusChange] = []
        for start in range(0, len(external_ids), POLL_BATCH):
            batch = external_ids[start : start + POLL_BATCH]
            params = {"service_request_id": ",".join(batch), **self._jurisdiction()}
            items = _read(self._call("GET", self._url("requests"), params=params))
            if isinstance(items, dict) and not items:
                items = []  # an empty <service_requests/> reads as an empty object
            if not isinstance(items, list):
                raise RetryableError("requests did not answer with a list")
            for item in items:
                if not isinstance(item, dict) or not item.get("service_request_id"):
                    continue
                status = STATUS_MAP.get(str(item.get("status", "")).strip().lower())
                if status is None:
                    log.warning("open311: unknown status %r ignored", item.get("status"))
                    continue
                note = item.get("status_notes") or None
                changes.append(
                    StatusChange(str(item["service_request_id"]), status, note and str(note))
                )
        return changes

    # -- transport ------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return f"{self.base}/{path}.{self.format}"

    def _jurisdiction(self) -> dict[str, str]:
        return {"jurisdiction_id": self.jurisdiction} if self.jurisdiction else {}

    def _call(
        self, method: str, url: str, *, sending: bool = False, **options: Any
    ) -> httpx.Response:
        """One HTTP call; ``sending`` marks a POST whose loss may still have filed it."""
        try:
            response = self.client.request(method, url, **options)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise RetryableError(f"open311: unreachable ({type(exc).__name__})") from exc
        except httpx.TimeoutException as exc:
            raise RetryableError(
                f"open311: timed out ({type(exc).__name__})", maybe_filed=sending
            ) from exc
        except httpx.TransportError as exc:
            raise RetryableError(
                f"open311: connection lost ({type(exc).__name__})", maybe_filed=sending
            ) from exc
        status = response.status_code
        if status >= 500 or status in RETRYABLE_STATUS:
            raise RetryableError(
                f"open311: HTTP {status}", maybe_filed=sending and status in MAYBE_FILED_STATUS
            )
        if status == 404 and "/tokens/" in url:
            return response
        if status >= 400:
            raise PermanentError(f"open311: HTTP {status}: {_errors(response)}")
        return response


def _w3c(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _same(item: dict[str, Any], sent: dict[str, str]) -> bool:
    """Whether a listed request is the one we sent (the fields the back office echoes)."""
    if str(item.get("description") or "").strip() != sent["description"].strip():
        return False
    if "address_string" in sent and item.get("address"):
        return str(item["address"]).strip() == sent["address_string"].strip()
    if "lat" in sent and item.get("lat") not in (None, ""):
        try:
            return (
                abs(float(item["lat"]) - float(sent["lat"])) < 1e-5
                and abs(float(item["long"]) - float(sent["long"])) < 1e-5
            )
        except (KeyError, TypeError, ValueError):
            return False
    return True


def _looks_like(response: httpx.Response) -> Format | None:
    body = response.content.lstrip(b"\xef\xbb\xbf \t\r\n")
    if body.startswith(b"<"):
        return "xml"
    if body[:1] in (b"[", b"{"):
        return "json"
    return None


def _read(response: httpx.Response) -> Any:
    """An answer as JSON-shaped data, whichever of the two formats it came in."""
    kind = _looks_like(response)
    try:
        if kind == "xml":
            return _xml_data(ET.fromstring(response.content))
        if kind == "json":
            return response.json()
    except (ET.ParseError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RetryableError(f"open311: the answer was not valid {kind.upper()}") from exc
    raise RetryableError("open311: the answer was neither JSON nor XML")


def _xml_data(element: ET.Element) -> Any:
    children = list(element)
    if element.tag in XML_LISTS:
        return [_xml_data(child) for child in children]
    if not children:
        return (element.text or "").strip() or None
    return {child.tag: _xml_data(child) for child in children}


def _first(data: Any) -> dict[str, Any]:
    item = data[0] if isinstance(data, list) and data else data
    if not isinstance(item, dict):
        raise RetryableError("open311: the answer was not a GeoReport object")
    return item


def _errors(response: httpx.Response) -> str:
    """The spec's error list, shortened; never the whole body (it may echo what we sent)."""
    try:
        data = _read(response)
        return "; ".join(
            f"{e.get('code')} {str(e.get('description', ''))[:120]}"
            for e in data
            if isinstance(e, dict)
        )[:300]
    except (RetryableError, TypeError, AttributeError):
        return "no GeoReport error list"
