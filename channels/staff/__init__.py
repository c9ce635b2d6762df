"""The staff console (/staff, server-rendered) and the staff API (/api/v1/staff).

``install(app)`` is the one call ``create_app`` makes: the signed session cookie, the guard
around staff paths (security headers, body limit), the stylesheet, the routes and the pages
shown for sign-in, 403 and 404.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from bot.identity import load_or_create_secret
from bot.settings import Settings
from channels.staff import (
    api,
    integration_keys,
    pages_auth,
    pages_desk,
    pages_home,
    pages_knowledge,
    pages_outbox,
)
from channels.staff.auth import (
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    BadToken,
    Forbidden,
    SignInRequired,
    session_secret,
    sign_in_url,
)
from channels.staff.web import HERE, NotFound, StaffPathGuard, page, redirect

ASSETS = "/assets/staff"


def install(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    key = load_or_create_secret(
        settings.secret_key.get_secret_value() if settings.secret_key else None, settings.data_dir
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(key),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        path="/staff",
        same_site="lax",
        https_only=bool(settings.public_url and settings.public_url.startswith("https://")),
    )
    app.add_middleware(StaffPathGuard)
    app.mount(ASSETS, StaticFiles(directory=HERE / "static"), name="staff-assets")
    for module in (pages_auth, pages_home, pages_knowledge, pages_desk, pages_outbox, api):
        app.include_router(module.router, include_in_schema=module is api)
    app.include_router(integration_keys.pages, include_in_schema=False)
    app.include_router(integration_keys.api)

    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, _exc: SignInRequired) -> Response:
        return redirect(sign_in_url(request) if request.method == "GET" else "/staff/login")

    @app.exception_handler(BadToken)
    async def bad_token(_request: Request, _exc: BadToken) -> Response:
        return JSONResponse(
            {"detail": "a valid staff API token is needed (Authorization: Bearer ...)"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.message}, status_code=403)
        context = {"heading": "Not allowed", "message": exc.message}
        return page(request, "error.html", context, status_code=403)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return page(request, "error.html", {"heading": "Not found", "message": str(exc)}, 404)
