"""Sign-in and sign-out, staff accounts (admin), one's own password and API tokens."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from bot.runtime import Runtime
from bot.staff import accounts, throttle
from bot.staff.models import StaffAccount
from bot.staff.roles import LEAST_ROLE, ROLE_ORDER
from channels.deps import RowId, RuntimeDep
from channels.staff.auth import (
    Admin,
    SignedIn,
    check_csrf,
    client_address,
    known_device,
    remember_device,
    safe_next,
    sign_in,
    sign_out,
)
from channels.staff.web import flash, page, redirect

router = APIRouter()
WRONG = "That staff name and password do not match an active account."
THROTTLED = (
    "Too many failed sign-ins for this name or from this address. Wait {wait} and try again."
)


@router.get("/staff/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/staff") -> HTMLResponse:
    return page(request, "login.html", {"next": safe_next(next), "name": "", "error": None})


def _attempt(request: Request, runtime: Runtime, name: str) -> throttle.Attempt:
    """The throttle's keys: keyed hashes, so no name or address is stored in clear."""
    return throttle.Attempt(
        account=runtime.hasher(f"staff sign-in name:{accounts.normalise_name(name)}"),
        address=runtime.hasher(f"staff sign-in address:{client_address(request)}"),
        known_device=known_device(request, runtime, name),
    )


def _begin(runtime: Runtime, attempt: throttle.Attempt) -> int:
    with runtime.db.transaction() as session:
        return throttle.begin(session, attempt, runtime.assistant.clock())


def _authenticate(
    runtime: Runtime, attempt: throttle.Attempt, name: str, password: str
) -> StaffAccount | None:
    with runtime.db.transaction() as session:
        account = accounts.authenticate(session, name, password)
        if account is not None:
            throttle.succeeded(session, attempt)
        return account


def _https(runtime: Runtime) -> bool:
    """Cookies are Secure when the console is served over https (as the session's)."""
    return bool(runtime.settings.public_url and runtime.settings.public_url.startswith("https://"))


def _wait_words(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    return f"{math.ceil(seconds / 60)} minutes"


@router.post("/staff/login", response_class=HTMLResponse)
async def login(
    request: Request,
    rt: RuntimeDep,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=accounts.MAX_PASSWORD)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/staff",
) -> Response:
    await check_csrf(request)
    attempt = _attempt(request, rt, name)
    wait = await run_in_threadpool(_begin, rt, attempt)
    if wait:
        error = THROTTLED.format(wait=_wait_words(wait))
        context = {"next": safe_next(next), "name": name, "error": error}
        response = page(request, "login.html", context, status_code=429)
        response.headers["Retry-After"] = str(wait)
        return response
    account = await run_in_threadpool(_authenticate, rt, attempt, name, password)
    if account is None:
        context = {"next": safe_next(next), "name": name, "error": WRONG}
        return page(request, "login.html", context, status_code=401)
    sign_in(request, account)
    response = redirect(safe_next(next))
    remember_device(response, rt, account.name, _https(rt))
    return response


@router.post("/staff/logout")
def logout(request: Request, rt: RuntimeDep, staff: SignedIn) -> Response:
    sign_out(request, rt, staff)
    return redirect("/staff/login")


# -- one's own password --------------------------------------------------------------------
@router.get("/staff/password", response_class=HTMLResponse)
def password_form(request: Request, staff: SignedIn) -> HTMLResponse:
    return page(request, "password.html", {"section": "password", "error": None})


@router.post("/staff/password", response_class=HTMLResponse)
async def password_change(
    request: Request,
    rt: RuntimeDep,
    staff: SignedIn,
    current: Annotated[str, Form(max_length=accounts.MAX_PASSWORD)] = "",
    new: Annotated[str, Form(max_length=accounts.MAX_PASSWORD)] = "",
    again: Annotated[str, Form(max_length=accounts.MAX_PASSWORD)] = "",
) -> Response:
    """The current password is checked (throttled like sign-in, so a borrowed session cannot
    guess it); the new one ends every session and token of the account, and this browser
    signs in again at once."""
    if new != again:
        return _password_page(request, "the two new passwords differ")
    attempt = _attempt(request, rt, staff.name)
    wait = await run_in_threadpool(_begin, rt, attempt)
    if wait:
        return _password_page(request, f"too many wrong passwords: wait {_wait_words(wait)}", 429)
    account = await run_in_threadpool(_authenticate, rt, attempt, staff.name, current)
    if account is None or account.id != staff.id:
        return _password_page(request, "the current password is not right", 401)

    def change() -> None:
        with rt.db.transaction() as session:
            changed = session.get(StaffAccount, staff.id)
            assert changed is not None
            accounts.set_password(session, changed, new)
            sign_in(request, changed)

    try:
        await run_in_threadpool(change)
    except accounts.AccountError as exc:
        return _password_page(request, str(exc))
    flash(request, "Password changed. Every other session and all your API tokens have ended.")
    return redirect("/staff")


def _password_page(request: Request, problem: str, status: int = 422) -> HTMLResponse:
    context = {"section": "password", "error": f"Not changed: {problem}."}
    return page(request, "password.html", context, status_code=status)


# -- accounts (admin) ----------------------------------------------------------------------
@router.get("/staff/accounts", response_class=HTMLResponse)
def account_list(request: Request, rt: RuntimeDep, staff: Admin) -> HTMLResponse:
    with rt.db.sessions() as session:
        rows = accounts.accounts(session)
    return page(
        request, "accounts.html", {"section": "accounts", "accounts": rows, "roles": ROLE_ORDER}
    )


@router.post("/staff/accounts")
def account_create(
    request: Request,
    rt: RuntimeDep,
    staff: Admin,
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = LEAST_ROLE,
    password: Annotated[str, Form(max_length=accounts.MAX_PASSWORD)] = "",
) -> Response:
    try:
        with rt.db.transaction() as session:
            account = accounts.create_account(session, name, password, role)
            flash(request, f"Created the {account.role} account {account.name}.")
    except accounts.AccountError as exc:
        flash(request, f"No account created: {exc}.", "error")
    return redirect("/staff/accounts")


@router.post("/staff/accounts/{account_id:int}")
def account_change(
    request: Request,
    rt: RuntimeDep,
    staff: Admin,
    account_id: RowId,
    role: Annotated[str, Form(max_length=20)] = "",
    active: Annotated[str, Form(max_length=5)] = "",
    password: Annotated[str, Form(max_length=accounts.MAX_PASSWORD)] = "",
) -> Response:
    try:
        with rt.db.transaction() as session:
            account = session.get(StaffAccount, account_id)
            if account is None:
                raise accounts.AccountError("there is no such account")
            state = {"yes": True, "no": False}.get(active)
            accounts.change_account(session, account, role=role, active=state, password=password)
            flash(request, f"Saved the account {account.name}.")
    except accounts.AccountError as exc:
        flash(request, f"Not saved: {exc}.", "error")
    return redirect("/staff/accounts")


# -- API tokens (one's own) ----------------------------------------------------------------
@router.get("/staff/tokens", response_class=HTMLResponse)
def token_list(request: Request, rt: RuntimeDep, staff: SignedIn) -> HTMLResponse:
    return _tokens_page(request, rt, staff.id)


def _tokens_page(
    request: Request, rt: Runtime, account_id: int, new_token: tuple[str, str] | None = None
) -> HTMLResponse:
    """The token list; a new token's secret is shown in this one response and never again."""
    with rt.db.sessions() as session:
        account = session.get(StaffAccount, account_id)
        rows = accounts.tokens(session, account) if account else []
    return page(
        request, "tokens.html", {"section": "tokens", "tokens": rows, "new_token": new_token}
    )


@router.post("/staff/tokens")
def token_create(
    request: Request,
    rt: RuntimeDep,
    staff: SignedIn,
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        with rt.db.transaction() as session:
            account = session.get(StaffAccount, staff.id)
            assert account is not None
            token, secret = accounts.create_token(session, account, name)
            created = (token.name, secret)
    except accounts.AccountError as exc:
        flash(request, f"No token created: {exc}.", "error")
        return redirect("/staff/tokens")
    return _tokens_page(request, rt, staff.id, created)


@router.post("/staff/tokens/{token_id:int}/revoke")
def token_revoke(request: Request, rt: RuntimeDep, staff: SignedIn, token_id: RowId) -> Response:
    with rt.db.transaction() as session:
        account = session.get(StaffAccount, staff.id)
        assert account is not None
        done = accounts.revoke_token(session, account, token_id)
    flash(request, "Token revoked." if done else "No such token.", "success" if done else "error")
    return redirect("/staff/tokens")
