"""Security of the console and the staff API: sign-in, roles, CSRF, escaping, upload size."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import NamedTuple

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from bot.runtime import Runtime
from bot.staff import accounts
from bot.staff.roles import ROLES, Permission, allows
from channels.staff.auth import ApiGuard, ConsoleGuard, Guard
from tests.channels.staff.conftest import PASSWORD, Console, csrf_of, new_account, new_token

STAFF_PREFIXES = ("/staff", "/api/v1/staff")
PUBLIC = {"/staff/login"}  # the sign-in page itself
SAMPLES = {
    "article_id": "1",
    "handoff_id": "1",
    "token_id": "1",
    "account_id": "1",
    "outbox_id": "1",
    "key_id": "1",
    "reference": "REQ-2026-000001",
    "action": "publish",
    "fmt": "csv",
}
TEN_MB = 10 * 1024 * 1024


class StaffRoute(NamedTuple):
    path: str  # as declared, e.g. /staff/knowledge/{article_id:int}
    route: APIRoute


def staff_routes(app: FastAPI) -> list[tuple[StaffRoute, str, str]]:
    """(route, method, concrete path) for every staff route of the app."""
    out = []
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path or ""
        if isinstance(route, APIRoute) and path.startswith(STAFF_PREFIXES):
            concrete = re.sub(r"{(\w+)(?::\w+)?}", lambda m: SAMPLES[m.group(1)], path)
            out += [(StaffRoute(path, route), m, concrete) for m in sorted(context.methods or ())]
    return out


def guard_of(staff_route: StaffRoute) -> Guard | None:
    pending = list(staff_route.route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if isinstance(dependency.call, Guard):
            return dependency.call
        pending += dependency.dependencies
    return None


def test_every_staff_route_has_a_guard_of_its_kind(app: FastAPI) -> None:
    routes = staff_routes(app)
    assert len({r.path for r, _, _ in routes}) >= 30  # the console and the API are all there
    for route, _, _ in routes:
        if route.path in PUBLIC:
            continue
        guard = guard_of(route)
        expected = ApiGuard if route.path.startswith("/api/") else ConsoleGuard
        assert isinstance(guard, expected), f"{route.path} is not guarded by a {expected.__name__}"


def test_nothing_answers_without_sign_in(app: FastAPI) -> None:
    client = TestClient(app)
    for route, method, path in staff_routes(app):
        if route.path in PUBLIC:
            continue
        response = client.request(method, path, follow_redirects=False)
        if path.startswith("/api/"):
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.headers["www-authenticate"] == "Bearer"
        else:
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/staff/login")
    # a session cookie is no key to the API, and a token is none to the console
    assert (
        client.get("/api/v1/staff/me", headers={"Authorization": "Bearer hls_x"}).status_code == 401
    )


def test_wrong_role_is_refused_everywhere(app: FastAPI, runtime: Runtime) -> None:
    consoles: dict[str, Console] = {}
    tokens: dict[str, TestClient] = {}
    every_role: list[StaffRoute] = []
    for route, method, path in staff_routes(app):
        guard = guard_of(route)
        if guard is None:
            continue
        lacking = [r for r in sorted(ROLES) if guard.permission and not allows(r, guard.permission)]
        if not lacking:
            every_role.append(route)
            continue
        role = lacking[0]
        if path.startswith("/api/"):
            if role not in tokens:
                bearer = {"Authorization": f"Bearer {new_token(runtime, role)}"}
                tokens[role] = TestClient(app, headers=bearer)
            response = tokens[role].request(method, path)
        else:
            if role not in consoles:
                consoles[role] = Console(TestClient(app), new_account(runtime, role)).sign_in()
            client = consoles[role]
            data = {"csrf_token": client.csrf} if method == "POST" else None
            response = client.client.request(method, path, data=data, follow_redirects=False)
        assert response.status_code == 403, (role, method, path, response.status_code)
    # what every role may do, by design: read knowledge, see the dashboard, try the bot
    open_to_all = {guard_of(r).permission for r in every_role}
    by_design = {None, Permission.DASHBOARD, Permission.PREVIEW, Permission.KNOWLEDGE_READ}
    assert open_to_all <= by_design


def test_csrf_token_is_required_on_every_form(app: FastAPI, console: Callable) -> None:
    admin = console("admin")
    posts = [
        path
        for _, method, path in staff_routes(app)
        if method == "POST" and not path.startswith("/api/")
    ]
    assert len(posts) >= 15
    for path in posts:
        for data in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
            response = admin.client.post(path, data=data, follow_redirects=False)
            assert response.status_code == 403, (path, data, response.status_code)
            assert "did not come from this console" in response.text
    # a token from another session does not do either
    other = console("admin")
    response = admin.client.post(
        "/staff/tokens", data={"name": "x", "csrf_token": other.csrf}, follow_redirects=False
    )
    assert response.status_code == 403


def test_sign_in_form_itself_needs_the_csrf_token(app: FastAPI, runtime: Runtime) -> None:
    client = TestClient(app)
    client.get("/staff/login")
    name = new_account(runtime, "editor")
    response = client.post("/staff/login", data={"name": name, "password": PASSWORD})
    assert response.status_code == 403


def test_sign_in_redirects_only_inside_the_console(app: FastAPI, runtime: Runtime) -> None:
    name = new_account(runtime, "editor")
    for target, expected in [
        ("/staff/knowledge?q=bins", "/staff/knowledge?q=bins"),
        ("https://evil.example/", "/staff"),
        ("//evil.example/staff", "/staff"),
        ("/staff\\..\\evil", "/staff"),
    ]:
        client = TestClient(app)
        token = csrf_of(client.get("/staff/login").text)
        response = client.post(
            "/staff/login",
            data={"name": name, "password": PASSWORD, "csrf_token": token, "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == expected


def test_session_ends_when_the_password_changes(console: Callable, runtime: Runtime) -> None:
    agent, admin = console("agent"), console("admin")
    assert agent.get("/staff/requests").status_code == 200
    with runtime.db.sessions() as session:
        account_id = accounts.find(session, agent.name).id
    response = admin.post(
        f"/staff/accounts/{account_id}",
        {"role": "agent", "active": "yes", "password": "a brand new password"},
    )
    assert response.status_code == 303
    assert agent.get("/staff/requests").status_code == 303  # signed out everywhere
    assert (
        Console(agent.client, agent.name)
        .client.post(
            "/staff/login",
            data={
                "name": agent.name,
                "password": PASSWORD,
                "csrf_token": csrf_of(agent.client.get("/staff/login").text),
            },
        )
        .status_code
        == 401
    )  # the old password no longer works


def test_security_headers_and_cookie_flags(app: FastAPI, runtime: Runtime) -> None:
    client = TestClient(app)
    login = client.get("/staff/login")
    assert "script-src 'self'" in login.headers["content-security-policy"]
    assert login.headers["x-frame-options"] == "DENY"
    cookie = login.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "path=/staff" in cookie.lower()
    assert "samesite=lax" in cookie.lower()


def test_html_in_an_article_is_escaped(console: Callable, api: Callable, runtime: Runtime) -> None:
    hostile = "<script>alert('x')</script>"
    slug = f"escape-{uuid.uuid4().hex[:8]}"
    created = api("editor").post(
        "/api/v1/staff/articles",
        json={
            "article": {
                "slug": slug,
                "title": f"Title {hostile}",
                "short_answer": f"Short <img src=x onerror=alert(1)> {hostile}",
                "answer": f"Long {hostile}",
                "questions": [f"why does {hostile} zyxqv happen"],
                "category": "<b>cat</b>",
                "department": "Dept",
                "status": "draft",
                "source_url": "https://www.portalder.example/x?a=1&b=<2>",
            }
        },
    )
    assert created.status_code == 201, created.text
    article_id = created.json()["id"]
    editor = console("editor")
    for url in (
        f"/staff/knowledge/{article_id}",
        f"/staff/knowledge/{article_id}/edit",
        f"/staff/knowledge/{article_id}/revisions",
        "/staff/knowledge?q=zyxqv",
        f"/staff/knowledge/{article_id}?ask=" + "<script>alert(1)</script>",
    ):
        html = editor.get(url).text
        assert "<script>" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;" in html, url
    assert "<b>cat</b>" not in editor.get("/staff/knowledge").text


def test_ten_megabyte_import_is_refused_cleanly(
    console: Callable, api: Callable, runtime: Runtime
) -> None:
    editor = console("editor")
    before = runtime.knowledge.version()
    big = b"slug,title\n" + b"x" * TEN_MB
    response = editor.post(
        "/staff/knowledge/import", {"mode": "apply"}, files={"file": ("big.csv", big, "text/csv")}
    )
    assert response.status_code == 413
    assert "too large" in response.text and "1 MB" in response.text

    def chunks():  # no Content-Length: the limit must hold for a streamed body too
        for _ in range(10):
            yield b"y" * (1024 * 1024)

    streamed = editor.client.post(
        "/staff/knowledge/import",
        content=chunks(),
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert streamed.status_code == 413
    raw = api("editor").post("/api/v1/staff/import?format=csv&dry_run=false", content=big)
    assert raw.status_code == 413 and "larger than" in raw.json()["detail"]
    assert runtime.knowledge.version() == before
    assert editor.get("/staff/knowledge").status_code == 200  # the server is fine
