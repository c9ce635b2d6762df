"""/docs in headless Chromium with every request off the machine refused: Swagger UI from us."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from bot.runtime import Runtime
from channels import api_docs
from tests.channels.channel_helpers import CHROMIUM, app_for, serve


@pytest.fixture(scope="module")
def server(runtime: Runtime) -> Iterator[str]:
    with serve(app_for(runtime)) as url:
        yield url


def test_another_copy_of_swagger_ui_is_not_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The wheel's files are served only as the pinned version has them."""
    for name in api_docs.ASSETS:
        (tmp_path / name).write_bytes((api_docs.STATIC / name).read_bytes() + b"/* changed */")
    monkeypatch.setattr(api_docs, "STATIC", tmp_path)
    api_docs.checked_asset.cache_clear()
    try:
        assert api_docs.checked_asset("swagger-ui-bundle.js") is None
        assert "does not match fastapi-offline 1.7.7" in caplog.text
    finally:
        api_docs.checked_asset.cache_clear()


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


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
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
