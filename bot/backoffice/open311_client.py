"""A connector that files our requests into a city's Open311 GeoReport v2 endpoint.

Filing is a form-encoded ``POST requests.json``. The ``Idempotency-Key`` header carries the
outbox row's key, so a back office that honours it never files a retry twice. Where the
spec lets us check before filing again we do: once a POST has answered with a token, later
attempts only ask ``tokens/{token}.json`` and never POST again.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from bot.backoffice.connector import (
    AwaitingToken,
    PermanentError,
    RetryableError,
    StatusChange,
)
from bot.storage.models import OutboxMessage, ServiceRequest

log = logging.getLogger(__name__)

MAX_DESCRIPTION = 4000  # the spec's limit
POLL_BATCH = 50
RETRYABLE_STATUS = {408, 409, 425, 429}
# Open311 says only open|closed; some servers report finer states, which we keep.
STATUS_MAP = {
    "open": "acknowledged",
    "acknowledged": "acknowledged",
    "in_progress": "in_progress",
    "in progress": "in_progress",
    "closed": "closed",
    "rejected": "rejected",
}


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
    ) -> None:
        self.base = url.rstrip("/")
        self.api_key = api_key
        self.jurisdiction = jurisdiction
        self.service_map = service_map or {}
        self.client = httpx.Client(timeout=timeout, transport=transport)

    def close(self) -> None:
        self.client.close()

    # -- filing ---------------------------------------------------------------------------
    def deliver(self, row: OutboxMessage, request: ServiceRequest) -> str | None:
        if row.external_token:
            return self._resolve_token(row.external_token)
        response = self._call(
            "POST",
            f"{self.base}/requests.json",
            data=self.form(request),
            headers={"Idempotency-Key": row.idempotency_key},
        )
        item = _first(_json(response))
        if item.get("service_request_id"):
            return str(item["service_request_id"])
        if item.get("token"):
            return self._resolve_token(str(item["token"]))
        raise RetryableError("the back office answered without a service_request_id or token")

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
        if "lat" not in data and "address_string" not in data:
            raise PermanentError("the request has neither a location nor an address")
        for code, value in (request.fields or {}).items():
            if code == "media_url":
                data["media_url"] = str(value)
            elif isinstance(value, str | int | float) and not isinstance(value, bool):
                data[f"attribute[{code}]"] = str(value)
        return data

    def _resolve_token(self, token: str) -> str:
        response = self._call(
            "GET", f"{self.base}/tokens/{token}.json", params=self._jurisdiction()
        )
        if response.status_code == 404:
            raise AwaitingToken(token)
        item = _first(_json(response))
        if item.get("service_request_id"):
            return str(item["service_request_id"])
        raise AwaitingToken(token)

    # -- status ---------------------------------------------------------------------------
    def poll_status(self, external_ids: list[str]) -> list[StatusChange]:
        changes: list[StatusChange] = []
        for start in range(0, len(external_ids), POLL_BATCH):
            batch = external_ids[start : start + POLL_BATCH]
            params = {"service_request_id": ",".join(batch), **self._jurisdiction()}
            response = self._call("GET", f"{self.base}/requests.json", params=params)
            items = _json(response)
            if not isinstance(items, list):
                raise RetryableError("requests.json did not answer with a list")
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
    def _jurisdiction(self) -> dict[str, str]:
        return {"jurisdiction_id": self.jurisdiction} if self.jurisdiction else {}

    def _call(self, method: str, url: str, **options: Any) -> httpx.Response:
        try:
            response = self.client.request(method, url, **options)
        except httpx.TimeoutException as exc:
            raise RetryableError(f"open311: timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise RetryableError(f"open311: unreachable ({type(exc).__name__})") from exc
        if response.status_code >= 500 or response.status_code in RETRYABLE_STATUS:
            raise RetryableError(f"open311: HTTP {response.status_code}")
        if response.status_code == 404 and "/tokens/" in url:
            return response
        if response.status_code >= 400:
            raise PermanentError(f"open311: HTTP {response.status_code}: {_errors(response)}")
        return response


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RetryableError("open311: the answer was not valid JSON") from exc


def _first(data: Any) -> dict[str, Any]:
    item = data[0] if isinstance(data, list) and data else data
    if not isinstance(item, dict):
        raise RetryableError("open311: the answer was not a GeoReport object")
    return item


def _errors(response: httpx.Response) -> str:
    """The spec's error list, shortened; never the whole body (it may echo what we sent)."""
    try:
        data = response.json()
        return "; ".join(
            f"{e.get('code')} {str(e.get('description', ''))[:120]}"
            for e in data
            if isinstance(e, dict)
        )[:300]
    except (ValueError, TypeError, AttributeError):
        return "no GeoReport error list"
