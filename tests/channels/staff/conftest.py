"""Staff console fixtures: an app over the session runtime, accounts per role, signed-in
clients and API tokens."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.runtime import Runtime
from bot.staff import accounts
from tests.channels.channel_helpers import app_for

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def new_account(runtime: Runtime, role: str) -> str:
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    with runtime.db.transaction() as session:
        accounts.create_account(session, name, PASSWORD, role)
    return name


def new_token(runtime: Runtime, role: str) -> str:
    with runtime.db.transaction() as session:
        account = accounts.create_account(session, f"{role}-{uuid.uuid4().hex[:8]}", PASSWORD, role)
        return accounts.create_token(session, account, "tests")[1]


class Console:
    """A browser-like client: signs in through the form and posts forms with their token."""

    def __init__(self, client: TestClient, name: str) -> None:
        self.client = client
        self.name = name
        self.csrf = ""

    def sign_in(self) -> Console:
        form = self.client.get("/staff/login")
        response = self.client.post(
            "/staff/login",
            data={"name": self.name, "password": PASSWORD, "csrf_token": csrf_of(form.text)},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        self.csrf = csrf_of(self.client.get("/staff").text)
        return self

    def get(self, url: str, **kwargs):
        return self.client.get(url, follow_redirects=False, **kwargs)

    def post(self, url: str, data: dict | None = None, *, csrf: bool = True, **kwargs):
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.csrf
        return self.client.post(url, data=data, follow_redirects=False, **kwargs)


@pytest.fixture(scope="module")
def app(runtime: Runtime) -> FastAPI:
    return app_for(runtime)


@pytest.fixture
def console(app: FastAPI, runtime: Runtime) -> Iterator[Callable[[str], Console]]:
    """console("editor") -> a Console signed in with a fresh account of that role."""
    clients: list[TestClient] = []

    def make(role: str) -> Console:
        client = TestClient(app)
        clients.append(client)
        return Console(client, new_account(runtime, role)).sign_in()

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def api(app: FastAPI, runtime: Runtime) -> Callable[[str], TestClient]:
    """api("editor") -> a client sending a fresh token of that role on every call."""

    def make(role: str) -> TestClient:
        client = TestClient(app)
        client.headers["Authorization"] = f"Bearer {new_token(runtime, role)}"
        return client

    return make
