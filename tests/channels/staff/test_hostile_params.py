"""Over-large ids and malformed path, query, form or JSON values on every console and
staff-API route get a 4xx, never a 500 (nor a traceback)."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from tests.channels.staff.conftest import Console
from tests.channels.staff.test_security import StaffRoute, staff_routes

HOSTILE = ["99999999999999999999", "9223372036854775808", "-1", "1e99", "%00", "x" * 3000]
QUERY_VALUES = [*HOSTILE, "", "%ud800", "%FF%FE", "NaN"]
FORM_VALUES = ["99999999999999999999", "-1", "\x00", "x" * 5000, "", "1,99999999999999999999"]
JSON_VALUES = [99999999999999999999, -1, 1e308, "abc", None, [1], {"a": 1}, "\x00"]
PLACEHOLDER = r"{(\w+)(?::\w+)?}"


def _hostile_paths(path: str) -> list[str]:
    """The route's path with each placeholder in turn (and all at once) made hostile."""
    names = re.findall(PLACEHOLDER, path)
    out = []
    for value in HOSTILE:
        if len(names) > 1:
            out.append(re.sub(PLACEHOLDER, value, path))
        for name in names:
            out.append(re.sub(r"{" + name + r"(?::\w+)?}", value, path))
    return out


def _body_fields(route: StaffRoute) -> list[str]:
    """The form or JSON field names a route reads (a model's fields, flattened one level)."""
    names = []
    for param in route.route.dependant.body_params:
        annotation = param.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += list(annotation.model_fields)
        else:
            names.append(param.alias)
    return [n for n in names if n != "csrf_token"]


def test_no_route_answers_500_to_hostile_parameters(
    app: FastAPI, console: Callable[[str], Console], api: Callable[[str], TestClient]
) -> None:
    admin, token = console("admin"), api("admin")
    api_client = TestClient(app, raise_server_exceptions=False, headers=token.headers)
    browser = TestClient(app, raise_server_exceptions=False, cookies=admin.client.cookies)
    tried, failures = 0, []

    def check(method: str, url: str, **kwargs) -> None:
        nonlocal tried
        client = api_client if url.startswith("/api/") else browser
        response = client.request(method, url, follow_redirects=False, **kwargs)
        tried += 1
        if response.status_code >= 500 or "Traceback" in response.text:
            failures.append((method, url[:100], str(kwargs)[:100], response.status_code))

    for route, method, concrete in staff_routes(app):
        on_api = concrete.startswith("/api/")
        form = None if method == "GET" or on_api else {"csrf_token": admin.csrf}
        for url in _hostile_paths(route.path) if "{" in route.path else []:
            check(method, url, data=form)
        for param in route.route.dependant.query_params:
            for value in QUERY_VALUES:
                check(method, f"{concrete}?{param.alias}={value}", data=form)
        for name in _body_fields(route) if method in ("POST", "PUT", "PATCH") else []:
            if on_api:
                for value in JSON_VALUES:
                    check(method, concrete, json={name: value})
            else:
                for value in FORM_VALUES:
                    check(method, concrete, data={**(form or {}), name: value})
    assert tried > 400
    assert not failures, sorted(set(failures))
