"""The API docs at /docs: Swagger UI from our own files, so they work with no network.

FastAPI's own /docs page loads Swagger UI from a CDN; ours serves the copy that the
``fastapi-offline`` wheel ships, under a Content-Security-Policy that lets the page run its
bundle and its one inline start-up script (allowed by hash) and talk to this server only.
The wheel is a third-party repackaging, so its files are checked against the SHA-256 of
version 1.7.7 before they are served: another copy gets a 503 that says so.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from functools import cache
from importlib.resources import files

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

log = logging.getLogger(__name__)
# name: (media type, SHA-256 of the file in fastapi-offline 1.7.7, as its RECORD lists it)
ASSETS = {
    "swagger-ui-bundle.js": (
        "text/javascript",
        "4b5a9b35a1adf37f00d39c0bae23cdb37007e2946240ef035137cc85b4d55349",
    ),
    "swagger-ui.css": (
        "text/css",
        "ca238f7d7c2cf4480c1e77a9c3b9da915ab216e96ffd354e69076560c650c6de",
    ),
}
STATIC = files("fastapi_offline") / "static"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def install(app: FastAPI) -> None:
    """Serve /docs and its assets; the app must be built with ``docs_url=None``."""

    @app.get("/docs", include_in_schema=False)
    def docs_page(request: Request) -> HTMLResponse:
        """Swagger UI over this app's /openapi.json."""
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API",
            swagger_js_url=f"{root}/docs/assets/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/docs/assets/swagger-ui.css",
            swagger_favicon_url=f"{root}/favicon.svg",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        page.headers.update(_headers(page.body.decode()))
        return page

    @app.get("/docs/assets/{name}", include_in_schema=False)
    def docs_asset(name: str) -> Response:
        """Swagger UI's script and stylesheet, from the installed wheel once checked."""
        if name not in ASSETS:
            raise HTTPException(404, "no such file")
        content = checked_asset(name)
        if content is None:
            raise HTTPException(503, "the API docs' files are not the pinned fastapi-offline 1.7.7")
        return Response(
            content,
            media_type=ASSETS[name][0],
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=3600"},
        )


@cache
def checked_asset(name: str) -> bytes | None:
    """The asset's bytes if they are the pinned version's, else None (and a log line why)."""
    content = (STATIC / name).read_bytes()
    if hashlib.sha256(content).hexdigest() != ASSETS[name][1]:
        log.error("not serving %s: it does not match fastapi-offline 1.7.7's SHA-256", name)
        return None
    return content


def _headers(html: str) -> dict[str, str]:
    """Headers for the page: scripts from us plus the page's own inline script, by hash."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(html)
    )
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'self' {hashes}; style-src 'self'; "
            "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        ),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
