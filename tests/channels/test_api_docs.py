"""/docs in headless Chromium with every request off the machine refused: Swagger UI from us."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from bot.runtime import Runtime
from tests.channels.channel_helpers import BROWSER_MARKS, app_for, serve

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def server(runtime: Runtime) -> Iterator[str]:
    with serve(app_for(runtime)) as url:
        yield url


def test_page_headers_and_assets(server: str) -> None:
    page = httpx.get(f"{server}/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp and "'sha256-" in csp
    assert "cdn" not in page.text and "/docs/assets/swagger-ui-bundle.js" in page.text
    script = httpx.get(f"{server}/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "SwaggerUIBundle" in script.text
    assert httpx.get(f"{server}/docs/assets/favicon.png").status_code == 404
    assert httpx.get(f"{server}/docs/assets/..%2F__init__.py").status_code == 404
    assert httpx.get(f"{server}/redoc").status_code == 404  # FastAPI's CDN page is off


def test_docs_list_the_operations_with_no_network(page: Page, server: str) -> None:
    local = urlsplit(server).netloc
    refused: list[str] = []
    violations: list[str] = []

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url).netloc == local:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(f"{server}/docs")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/messages")).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/healthz")).to_be_visible()
    expect(page.locator(".opblock-tag").first).to_be_visible()
    assert page.locator(".opblock").count() >= 10
    assert refused == [] and violations == []
