"""Staff sessions and tokens end together; sign-in slows attackers without locking anyone
out; X-Forwarded-For is believed only from a configured proxy."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete

from bot.runtime import Runtime
from bot.staff import accounts
from bot.staff.models import SignInFailures
from channels.staff.auth import DEVICE_COOKIE
from evaluation.qa.conversations import MovableClock
from tests.channels.channel_helpers import app_for, serve
from tests.channels.staff.conftest import PASSWORD, Console, csrf_of, new_account

NEW_TOKEN = re.compile(r'id="new-token">(hls_[^<]+)<')
ATTACKER = ("203.0.113.7", 40000)
RESIDENT_OFFICE = ("198.51.100.20", 40001)


@pytest.fixture(autouse=True)
def fresh_counters(runtime: Runtime) -> Iterator[None]:
    """Each test starts and ends with no failed sign-ins counted (they are shared, in the
    database, like the addresses other tests sign in from)."""
    with runtime.db.transaction() as session:
        session.execute(delete(SignInFailures))
    yield
    with runtime.db.transaction() as session:
        session.execute(delete(SignInFailures))


@pytest.fixture
def frozen(clock: MovableClock, monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """The app's clock stands still for the test (waits are exact); the returned function
    moves it on."""
    now = [clock()]
    monkeypatch.setattr(MovableClock, "__call__", lambda self: now[0])

    def advance(by: timedelta) -> None:
        now[0] += by

    return advance


def token_from_console(staff: Console, label: str = "script") -> str:
    created = staff.post("/staff/tokens", {"name": label})
    assert created.status_code == 200, created.text[-2000:]
    found = NEW_TOKEN.search(created.text)
    assert found, "the new token is shown once"
    return found.group(1)


def api_status(app: FastAPI, token: str) -> int:
    return (
        TestClient(app).get("/api/v1/staff/me", headers={"Authorization": f"Bearer {token}"})
    ).status_code


def signed_in(staff: Console) -> bool:
    return staff.get("/staff/tokens").status_code == 200


def account_id(runtime: Runtime, name: str) -> int:
    with runtime.db.sessions() as session:
        found = accounts.find(session, name)
        assert found is not None
        return found.id


def sign_in(client: TestClient, name: str, password: str):
    form = client.get("/staff/login")
    return client.post(
        "/staff/login",
        data={"name": name, "password": password, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )


# -- sessions and tokens end together ------------------------------------------------------
def test_sign_out_ends_every_session_and_token_and_a_copied_cookie(
    app: FastAPI, console: Callable[[str], Console], runtime: Runtime
) -> None:
    desk = console("editor")
    token = token_from_console(desk)
    laptop = Console(TestClient(app), desk.name).sign_in()  # the same person, another browser
    copied = Console(TestClient(app, cookies=desk.client.cookies), desk.name)
    copied.csrf = desk.csrf  # a thief has the cookie and can read the page's token
    assert signed_in(copied) and api_status(app, token) == 200

    assert desk.post("/staff/logout").status_code == 303
    assert not signed_in(desk) and not signed_in(laptop)
    assert not signed_in(copied)  # the cookie copied before sign-out is worthless
    made = copied.post("/staff/tokens", {"name": "persistence"})
    assert made.status_code == 303 and made.headers["location"].startswith("/staff/login")
    with runtime.db.sessions() as session:
        account = accounts.find(session, desk.name)
        assert account is not None and accounts.tokens(session, account) == []
    assert api_status(app, token) == 401  # and so is the token made in the session

    again = Console(desk.client, desk.name).sign_in()  # the real person signs in again
    assert signed_in(again) and not signed_in(copied)


@pytest.mark.parametrize(
    "change",
    [
        {"role": "editor", "active": "yes", "password": "a fresh reset passphrase"},
        {"role": "qa", "active": "yes"},
        {"role": "agent", "active": "no"},
    ],
    ids=["password reset", "role change", "deactivation"],
)
def test_admin_changes_end_every_session_and_token(
    app: FastAPI, console: Callable[[str], Console], runtime: Runtime, change: dict[str, str]
) -> None:
    admin = console("admin")
    staff = console("agent" if change.get("active") == "no" else "editor")
    token = token_from_console(staff)
    assert api_status(app, token) == 200
    saved = admin.post(f"/staff/accounts/{account_id(runtime, staff.name)}", change)
    assert saved.status_code == 303
    assert not signed_in(staff)
    assert api_status(app, token) == 401


def test_a_reactivated_account_gets_none_of_its_old_tokens_back(
    app: FastAPI, console: Callable[[str], Console], runtime: Runtime
) -> None:
    admin, staff = console("admin"), console("agent")
    token = token_from_console(staff)
    target = f"/staff/accounts/{account_id(runtime, staff.name)}"
    assert admin.post(target, {"role": "agent", "active": "no"}).status_code == 303
    assert api_status(app, token) == 401
    assert admin.post(target, {"role": "agent", "active": "yes"}).status_code == 303
    assert api_status(app, token) == 401  # still revoked
    assert not signed_in(staff)
    back = Console(TestClient(app), staff.name).sign_in()
    assert signed_in(back) and api_status(app, token_from_console(back, "new")) == 200


def test_staff_api_account_changes_end_tokens_too(
    app: FastAPI, api: Callable[[str], TestClient], console: Callable[[str], Console], runtime
) -> None:
    admin_api, staff = api("admin"), console("editor")
    token = token_from_console(staff)
    target = f"/api/v1/staff/accounts/{account_id(runtime, staff.name)}"
    changed = admin_api.patch(target, json={"role": "qa"})
    assert changed.status_code == 200 and changed.json()["role"] == "qa"
    assert api_status(app, token) == 401 and not signed_in(staff)
    assert admin_api.patch("/api/v1/staff/accounts/99999999", json={}).status_code == 404


def test_changing_ones_own_password(
    app: FastAPI, console: Callable[[str], Console], runtime: Runtime
) -> None:
    staff = console("editor")
    token = token_from_console(staff)
    other_browser = Console(TestClient(app), staff.name).sign_in()
    new = "mossy granite teapot orbit"
    wrong = staff.post("/staff/password", {"current": "not it at all", "new": new, "again": new})
    assert wrong.status_code == 401 and "current password is not right" in wrong.text
    weak = staff.post(
        "/staff/password", {"current": PASSWORD, "new": "1234567890", "again": "1234567890"}
    )
    assert weak.status_code == 422 and "too easy to guess" in weak.text
    differ = staff.post("/staff/password", {"current": PASSWORD, "new": new, "again": new + "x"})
    assert differ.status_code == 422 and "differ" in differ.text
    assert api_status(app, token) == 200 and signed_in(other_browser)  # nothing changed yet

    done = staff.post("/staff/password", {"current": PASSWORD, "new": new, "again": new})
    assert done.status_code == 303
    assert signed_in(staff)  # this browser carries on, signed in afresh
    assert not signed_in(other_browser) and api_status(app, token) == 401
    assert sign_in(TestClient(app), staff.name, PASSWORD).status_code == 401
    assert sign_in(TestClient(app), staff.name, new).status_code == 303


def test_weak_passwords_are_refused_on_the_console_and_the_api(
    console: Callable[[str], Console], api: Callable[[str], TestClient], runtime: Runtime
) -> None:
    admin, admin_api = console("admin"), api("admin")
    name = f"sam.{uuid.uuid4().hex[:6]}"
    for weak, reason in ((name, "not be the staff name"), ("aaaaaaaaaaaa", "too easy to guess")):
        made = admin.post("/staff/accounts", {"name": name, "role": "agent", "password": weak})
        shown = admin.get(made.headers["location"]).text.replace("&#34;", '"')
        assert "No account created" in shown and reason in shown
        response = admin_api.post(
            "/api/v1/staff/accounts", json={"name": name, "role": "agent", "password": weak}
        )
        assert response.status_code == 422 and reason in response.json()["detail"]
    created = admin_api.post(
        "/api/v1/staff/accounts",
        json={"name": name, "role": "agent", "password": "velvet harbour lanterns"},
    )
    assert created.status_code == 201 and created.json()["name"] == name
    reset = admin_api.patch(
        f"/api/v1/staff/accounts/{created.json()['id']}", json={"password": "1234567890"}
    )
    assert reset.status_code == 422 and "common password" in reset.json()["detail"]


# -- sign-in throttling ----------------------------------------------------------------------
def test_wrong_passwords_slow_that_address_but_never_lock_the_person_out(
    app: FastAPI, runtime: Runtime, frozen: Callable[[timedelta], None]
) -> None:
    name = new_account(runtime, "editor")
    attacker = TestClient(app, client=ATTACKER)
    statuses, waits = [], []
    for _ in range(10):
        response = sign_in(attacker, name, "wrong password!")
        statuses.append(response.status_code)
        if response.status_code == 429:
            waits.append(int(response.headers["retry-after"]))
            assert "Wait " in response.text and "try again" in response.text
        else:
            assert "do not match an active account" in response.text
    # five tries are free, then the next must wait a second after the last failure
    assert statuses == [401] * 5 + [429] * 5 and waits == [1] * 5
    # even the right password is refused from there while it waits: no guess gets through
    assert sign_in(attacker, name, PASSWORD).status_code == 429
    # the real person, from another address, signs in at once
    assert sign_in(TestClient(app, client=RESIDENT_OFFICE), name, PASSWORD).status_code == 303

    # exponential, not a lock: each wait is double the one before, and then one may try again
    delays = []
    for _ in range(4):
        response = sign_in(attacker, name, "wrong password!")
        assert response.status_code == 429
        delays.append(int(response.headers["retry-after"]))
        frozen(timedelta(seconds=delays[-1]))
        assert sign_in(attacker, name, "wrong password!").status_code == 401
    assert delays == [1, 2, 4, 8]
    wait = int(sign_in(attacker, name, PASSWORD).headers["retry-after"])
    assert wait <= 15 * 60
    frozen(timedelta(seconds=wait))
    assert sign_in(attacker, name, PASSWORD).status_code == 303  # never locked for good


def test_one_address_trying_many_names_is_slowed(
    app: FastAPI, runtime: Runtime, frozen: Callable[[timedelta], None]
) -> None:
    client = TestClient(app, client=ATTACKER)
    statuses = [
        sign_in(client, f"guess-{uuid.uuid4().hex[:8]}", "Spring2026!!").status_code
        for _ in range(24)
    ]
    assert statuses == [401] * 20 + [429] * 4
    name = new_account(runtime, "agent")
    assert sign_in(client, name, PASSWORD).status_code == 429
    assert sign_in(TestClient(app, client=RESIDENT_OFFICE), name, PASSWORD).status_code == 303


def test_many_addresses_against_one_account_slow_it_a_little_but_not_its_owner(
    app: FastAPI, runtime: Runtime, frozen: Callable[[timedelta], None]
) -> None:
    name = new_account(runtime, "admin")
    laptop = TestClient(app, client=RESIDENT_OFFICE)  # the owner's own browser, signed in once
    assert sign_in(laptop, name, PASSWORD).status_code == 303

    def attack() -> list[int]:
        return [
            sign_in(
                TestClient(app, client=(f"192.0.2.{n + 1}", 40000)), name, f"guess {n}"
            ).status_code
            for n in range(26)
        ]

    assert attack() == [401] * 20 + [429] * 6
    stranger = sign_in(TestClient(app, client=RESIDENT_OFFICE), name, PASSWORD)
    assert stranger.status_code == 429  # a new browser on that name waits...
    assert int(stranger.headers["retry-after"]) <= 60  # ...a minute at most
    forged = TestClient(app, client=RESIDENT_OFFICE, cookies={DEVICE_COOKIE: "made.up"})
    assert sign_in(forged, name, PASSWORD).status_code == 429
    assert sign_in(laptop, name, PASSWORD).status_code == 303  # its owner's browser: at once

    assert attack() == [401] * 20 + [429] * 6
    person = TestClient(app, client=RESIDENT_OFFICE)
    wait = int(sign_in(person, name, PASSWORD).headers["retry-after"])
    frozen(timedelta(seconds=wait))
    assert sign_in(person, name, PASSWORD).status_code == 303


# -- proxy headers ---------------------------------------------------------------------------
def _failures_behind(url: str, forwarded: Callable[[int], str], count: int) -> list[int]:
    statuses = []
    with httpx.Client(base_url=url) as client:
        token = csrf_of(client.get("/staff/login").text)
        for number in range(count):
            response = client.post(
                "/staff/login",
                data={"name": f"nobody-{number}", "password": "x" * 12, "csrf_token": token},
                headers={"X-Forwarded-For": forwarded(number)},
            )
            statuses.append(response.status_code)
    return statuses


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(
    runtime: Runtime, frozen: Callable[[timedelta], None]
) -> None:
    rotating = lambda n: f"198.18.0.{n + 1}"  # noqa: E731 - a new made-up address each time
    with serve(app_for(runtime)) as url:  # no proxy configured: loopback is the client
        assert _failures_behind(url, rotating, 23) == [401] * 20 + [429] * 3
    with runtime.db.transaction() as session:
        session.execute(delete(SignInFailures))
    with serve(app_for(runtime, trusted_proxies="127.0.0.1")) as url:  # behind our proxy
        assert _failures_behind(url, rotating, 23) == [401] * 23
        assert _failures_behind(url, lambda n: "198.18.1.1", 23) == [401] * 20 + [429] * 3
