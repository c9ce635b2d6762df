"""Which back office this installation talks to, from settings, and the app's background loop.

Default ("local"): the back office is this installation itself (staff desk and Open311
server), so delivery just marks each row delivered to 'local'. "none" runs no dispatcher:
rows stay pending and visible to staff (``hotline outbox list``) until one is configured.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from bot.backoffice.connector import Connector, LocalConnector
from bot.backoffice.dispatcher import Dispatcher, RetryPolicy
from bot.backoffice.open311_client import Open311Connector
from bot.backoffice.status_sync import StatusSync
from bot.backoffice.webhook import WebhookConnector
from bot.settings import Settings
from bot.storage.db import Database

log = logging.getLogger(__name__)
KINDS = ("local", "open311", "webhook", "none")


class BackOfficeConfigError(ValueError):
    pass


def kind(settings: Settings) -> str:
    chosen = (settings.backoffice or "").strip().lower()
    if not chosen and settings.open311_url:
        chosen = "open311"
    elif not chosen:
        chosen = "webhook" if settings.webhook_url else "local"
    if chosen not in KINDS:
        raise BackOfficeConfigError(
            f"HOTLINE_BACKOFFICE={chosen!r}; expected one of {', '.join(KINDS)}"
        )
    return chosen


def build_connector(settings: Settings) -> Connector | None:
    """The configured connector, or None for "none"."""
    chosen = kind(settings)
    if chosen == "none":
        return None
    if chosen == "local":
        return LocalConnector()
    if chosen == "open311":
        if not settings.open311_url:
            raise BackOfficeConfigError("HOTLINE_BACKOFFICE=open311 needs HOTLINE_OPEN311_URL")
        key = settings.open311_api_key
        return Open311Connector(
            settings.open311_url,
            api_key=key.get_secret_value() if key else None,
            jurisdiction=settings.open311_jurisdiction,
            service_map=settings.open311_service_map,
            timeout=settings.backoffice_timeout,
            format=settings.open311_format,
            discovery_url=settings.open311_discovery_url,
        )
    if not settings.webhook_url or not settings.webhook_secret:
        raise BackOfficeConfigError(
            "HOTLINE_BACKOFFICE=webhook needs HOTLINE_WEBHOOK_URL and HOTLINE_WEBHOOK_SECRET"
        )
    return WebhookConnector(
        settings.webhook_url,
        settings.webhook_secret.get_secret_value().encode(),
        timeout=settings.backoffice_timeout,
    )


def build_dispatcher(settings: Settings, db: Database, connector: Connector) -> Dispatcher:
    # A claim must outlive the slowest delivery (a POST and a token look-up).
    lease_seconds = max(settings.dispatch_lease, 3 * settings.backoffice_timeout)
    return Dispatcher(
        db,
        connector,
        policy=RetryPolicy(
            settings.dispatch_max_attempts,
            settings.dispatch_base_delay,
            settings.dispatch_max_delay,
        ),
        lease_seconds=lease_seconds,
        concurrency=settings.dispatch_concurrency,
    )


@dataclass
class Worker:
    """A dispatcher (and status poller) running until stop is set."""

    dispatcher: Dispatcher
    status_sync: StatusSync
    stop: threading.Event

    def run(self, interval: float) -> None:
        self.dispatcher.run_forever(self.stop, interval=interval, status_sync=self.status_sync)


def build_worker(
    settings: Settings, db: Database, connector: Connector | None = None
) -> Worker | None:
    connector = connector or build_connector(settings)
    if connector is None:
        log.warning("no back office configured (HOTLINE_BACKOFFICE=none): outbox rows wait")
        return None
    dispatcher = build_dispatcher(settings, db, connector)
    sync = StatusSync(db, connector, interval=settings.status_poll_interval, name=dispatcher.name)
    return Worker(dispatcher, sync, threading.Event())


@dataclass
class Background:
    """The app's dispatcher thread; ``stop`` waits for it, so its leases are released before
    the process exits (a daemon thread's ``finally`` never runs at interpreter exit)."""

    event: threading.Event
    thread: threading.Thread

    def stop(self, timeout: float) -> None:
        self.event.set()
        self.thread.join(timeout)
        if self.thread.is_alive():
            log.warning(
                "the dispatcher did not stop within %.0f s; its leases will expire", timeout
            )


def start_in_background(
    settings: Settings, database: Callable[[], Database | None]
) -> Background | None:
    """Run a dispatcher thread in this process once ``database()`` gives a database.

    Returns its handle, or None when dispatching in the app is switched off.
    A wrong back-office configuration raises here, at start-up, not later in the thread.
    """
    if not settings.dispatch_in_app:
        return None
    connector = build_connector(settings)
    if connector is None:
        log.warning("no back office configured (HOTLINE_BACKOFFICE=none): outbox rows wait")
        return None
    stop = threading.Event()

    def main() -> None:
        db = database()
        while db is None and not stop.wait(0.5):
            db = database()
        if db is not None:
            worker = build_worker(settings, db, connector)
            assert worker is not None
            worker.stop = stop
            worker.run(settings.dispatch_interval)

    thread = threading.Thread(target=main, name="outbox-dispatcher", daemon=True)
    thread.start()
    return Background(stop, thread)
