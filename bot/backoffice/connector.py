"""The one interface every back office sits behind, and the errors that steer retries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.storage.models import OutboxMessage, ServiceRequest


class DeliveryError(Exception):
    """A delivery that did not happen; the message is kept as the row's last_error."""


class RetryableError(DeliveryError):
    """Worth trying again later: the back office is down, slow, overloaded or garbled.

    ``maybe_filed`` says the request may have arrived all the same (the answer was lost after
    it was sent): the row remembers it, and the next attempt asks the back office first.
    """

    def __init__(self, message: str, *, maybe_filed: bool = False) -> None:
        super().__init__(message)
        self.maybe_filed = maybe_filed


class AwaitingToken(RetryableError):
    """Filed, but the back office gave a token, not an id yet: check the token, never re-POST."""

    def __init__(self, token: str, reason: str | None = None) -> None:
        why = f" ({reason})" if reason else ""
        super().__init__(
            f"filed; waiting for the back office to turn token {token} into an id{why}"
        )
        self.token = token


class PermanentError(DeliveryError):
    """Retrying cannot help (refused as invalid, unknown service): dead-letter it for staff."""


@dataclass(frozen=True)
class StatusChange:
    """What the back office says about one request it holds."""

    external_id: str
    status: str  # one of bot.service_requests.STATUSES
    note: str | None = None


class Connector(Protocol):
    """A back office: takes a filed request once, and reports what happened to it since."""

    name: str

    def deliver(self, row: OutboxMessage, request: ServiceRequest) -> str | None:
        """File the request; return the back office's id for it (None if it gives none).

        Must be safe to call again for the same row (row.idempotency_key is sent along).
        Raises RetryableError or PermanentError.
        """
        ...

    def poll_status(self, external_ids: list[str]) -> list[StatusChange]:
        """The current status of requests filed earlier (empty if the back office pushes)."""
        ...


class LocalConnector:
    """The built-in back office: our own staff desk and Open311 server hold the request.

    Delivery only marks the row delivered to 'local'; staff change the status themselves.
    """

    name = "local"

    def deliver(self, row: OutboxMessage, request: ServiceRequest) -> str | None:
        return None

    def poll_status(self, external_ids: list[str]) -> list[StatusChange]:
        return []
