"""The FastAPI application: every channel's routes over one shared runtime."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bot.backoffice import config as backoffice
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from channels import api, api_docs, backoffice_webhook, open311, outage, residents, staff
from channels.deps import NotReady
from channels.request_limits import BodyLimit, validation_error

log = logging.getLogger(__name__)
# How every server runs the app (`hotline serve`, the tests' uvicorn): uvicorn's own proxy
# headers are off, since it would believe X-Forwarded-For from 127.0.0.1 by default; the app
# believes them from HOTLINE_TRUSTED_PROXIES only.
SERVER_OPTIONS = {"proxy_headers": False}


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """An app whose runtime is given (tests) or built in the background (so /healthz answers)."""
    settings = runtime.settings if runtime else settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for configured, message in settings.unset_secrets():
            log.log(logging.WARNING if configured else logging.INFO, message)
        if app.state.runtime is None:
            threading.Thread(target=_build, args=(app, settings), daemon=True).start()
        stop_dispatch = backoffice.start_in_background(
            settings, lambda: app.state.runtime.db if app.state.runtime else None
        )
        yield
        if stop_dispatch is not None:  # SIGTERM ends uvicorn's serving, then this runs
            await asyncio.to_thread(stop_dispatch.stop, settings.backoffice_timeout + 5)

    # /docs comes from our own copy of Swagger UI (channels/api_docs.py), never a CDN.
    app = FastAPI(
        title="Hotline assistant",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.startup_error = None

    @app.exception_handler(NotReady)
    async def not_ready(_request: Request, _exc: NotReady) -> JSONResponse:
        return JSONResponse(
            {"detail": "starting up, try again shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    app.add_exception_handler(RequestValidationError, validation_error)
    outage.install(app)  # a database outage: each channel's polite answer, 503 + Retry-After
    app.include_router(api.router)
    open311.install(app)  # Open311 GeoReport v2 at /open311/v2, discovery at /open311
    app.include_router(backoffice_webhook.router)  # status pushed by a webhook back office
    residents.install(app)  # Telegram, SMS, web chat, notices, rate limits
    staff.install(app)  # staff console /staff and staff API /api/v1/staff
    api_docs.install(app)  # /docs: Swagger UI from our own files, strict CSP
    app.add_middleware(BodyLimit)  # before anything reads the body
    if settings.trusted_proxies.strip():  # outermost: every layer sees the real client
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app


def _build(app: FastAPI, settings: Settings) -> None:
    try:
        app.state.runtime = build_runtime(settings)
        log.info("ready")
    except Exception as exc:
        log.exception("start-up failed")
        app.state.startup_error = str(exc)
