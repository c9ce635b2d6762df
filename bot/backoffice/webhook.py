"""A connector for back offices without Open311: a signed JSON POST per filed request.

The receiver checks ``X-Hotline-Signature: sha256=<hex>``, the HMAC-SHA256 under the shared
secret of ``"<X-Hotline-Timestamp>." + body``, and refuses stale timestamps (replays).
``Idempotency-Key`` is the same on every retry of one request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from bot.backoffice.connector import PermanentError, RetryableError, StatusChange
from bot.storage.models import OutboxMessage, ServiceRequest

SIGNATURE_HEADER = "X-Hotline-Signature"
TIMESTAMP_HEADER = "X-Hotline-Timestamp"
TOLERANCE_SECONDS = 300


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: bytes,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now: float | None = None,
) -> bool:
    """True if the body was signed with the secret within the last few minutes."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs((now if now is not None else time.time()) - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def request_document(request: ServiceRequest) -> dict[str, Any]:
    """What a back office needs to work the request: never the resident's contact details."""
    return {
        "reference": request.reference,
        "service_code": request.service_code,
        "status": request.status,
        "description": request.description,
        "address": request.address,
        "street": request.street,
        "district": request.district,
        "lat": request.lat,
        "lon": request.lon,
        "fields": request.fields or {},
        "language": request.language,
        "created_at": request.created_at.isoformat() if request.created_at else None,
    }


class WebhookConnector:
    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: bytes,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not secret:
            raise ValueError("a webhook back office needs HOTLINE_WEBHOOK_SECRET")
        self.url = url
        self.secret = secret
        self.client = httpx.Client(timeout=timeout, transport=transport)

    def close(self) -> None:
        self.client.close()

    def deliver(self, row: OutboxMessage, request: ServiceRequest) -> str | None:
        body = json.dumps(
            {
                "event": "service_request.filed",
                "idempotency_key": row.idempotency_key,
                "request": request_document(request),
            },
            separators=(",", ":"),
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": row.idempotency_key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self.secret, timestamp, body),
        }
        try:
            response = self.client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise RetryableError(f"webhook: timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise RetryableError(f"webhook: unreachable ({type(exc).__name__})") from exc
        if response.status_code >= 500 or response.status_code in {408, 409, 425, 429}:
            raise RetryableError(f"webhook: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise PermanentError(f"webhook: HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            return None  # a bare 2xx is an acknowledgement too
        external = answer.get("id") if isinstance(answer, dict) else None
        return str(external) if external not in (None, "") else None

    def poll_status(self, external_ids: list[str]) -> list[StatusChange]:
        return []  # a webhook back office pushes status changes to us instead
