"""Sign-in and sign-out, staff accounts (admin) and each member's own API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from bot.runtime import Runtime
from bot.staff import accounts
from bot.staff.models import StaffAccount
from bot.staff.roles import ROLES
from channels.deps import RowId, RuntimeDep
from channels.staff.auth import (
    Admin,
    SignedIn,
    SignInThrottle,
    check_csrf,
    safe_next,
    sign_in,
    sign_out,
)
from channels.staff.web import flash, page, redirect

router = APIRouter()
throttle = SignInThrottle()
WRONG = "That staff name and password do not match an active account."
THROTTLED = "Too many failed sign-ins. Wait 15 minutes and try again, or ask an administrator."


@router.get("/staff/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/staff") -> HTMLResponse:
    return page(request, "login.html", {"next": safe_next(next), "name": "", "error": None})


def _authenticate(runtime: Runtime, name: str, password: str) -> StaffAccount | None:
    with runtime.db.transaction() as session:
        return accounts.authenticate(session, name, password)


@router.post("/staff/login", response_class=HTMLResponse)
async def login(
    request: Request,
    rt: RuntimeDep,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=accounts.MAX_PASSWORD)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/staff",
) -> Response:
    await check_csrf(request)
    client = request.client.host if request.client else "unknown"
    if not throttle.allowed(name, client):
        context = {"next": safe_next(next), "name": name, "error": THROTTLED}
        return page(request, "login.html", context, status_code=429)
    account = await run_in_threadpool(_authenticate, rt, name, password)
    if account is None:
        throttle.failed(name, client)
        context = {"next": safe_next(next), "name": name, "error": WRONG}
        return page(request, "login.html", context, status_code=401)
    sign_in(request, account)
    return redirect(safe_next(next))


@router.post("/staff/logout")
def logout(request: Request, staff: SignedIn) -> Response:
    sign_out(request)
    return redirect("/staff/login")


# -- accounts (admin) ----------------------------------------------------------------------
@router.get("/staff/accounts", response_class=HTMLResponse)
def account_list(request: Request, rt: RuntimeDep, staff: Admin) -> HTMLResponse:
    with rt.db.sessions() as session:
        rows = accounts.accounts(session)
    return page(
        request, "accounts.html", {"section": "accounts", "accounts": rows, "roles": sorted(ROLES)}
    )


@router.post("/staff/accounts")
def account_create(
    request: Request,
    rt: RuntimeDep,
    staff: Admin,
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
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
            if role and role != account.role:
                last = account.role == "admin" and account.active
                if last and not _other_admin(session, account):
                    raise accounts.AccountError("the last active admin must stay an admin")
                accounts.set_role(session, account, role)
            if active in ("yes", "no") and (active == "yes") != account.active:
                accounts.set_active(session, account, active == "yes")
            if password:
                accounts.set_password(session, account, password)
            flash(request, f"Saved the account {account.name}.")
    except accounts.AccountError as exc:
        flash(request, f"Not saved: {exc}.", "error")
    return redirect("/staff/accounts")


def _other_admin(session, account: StaffAccount) -> bool:
    return any(
        a.role == "admin" and a.active and a.id != account.id for a in accounts.accounts(session)
    )


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
