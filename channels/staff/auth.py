"""Who is asking: signed-in staff by session cookie (console) or bearer token (staff API).

Every console and staff-API route depends on a ``ConsoleGuard`` or an ``ApiGuard`` (through
the aliases below): they refuse without sign-in (redirect to the sign-in page, or 401) and
with the wrong role (403). A ``ConsoleGuard`` also checks the CSRF token on every unsafe
method, so no form can forget it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from bot.runtime import Runtime
from bot.staff import accounts
from bot.staff.models import StaffAccount
from bot.staff.roles import Permission, allows
from channels.deps import get_runtime

SESSION_COOKIE = "hotline_staff"
SESSION_MAX_AGE = 8 * 3600  # one working day
# "This browser has signed in as NAME before": spares its owner the sign-in throttle's
# account-wide wait (bot/staff/throttle.py). A nonce and its keyed hash with the name; no name.
DEVICE_COOKIE = "hotline_staff_device"
DEVICE_MAX_AGE = 180 * 24 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Staff:
    """The signed-in member of staff, as routes see them."""

    id: int
    name: str
    role: str

    def can(self, permission: Permission) -> bool:
        return allows(self.role, permission)


class SignInRequired(Exception):
    """No valid session: the console redirects to the sign-in page."""


class BadToken(Exception):
    """No valid bearer token: the staff API answers 401."""


class Forbidden(Exception):
    """Signed in, but the role lacks the permission (or the CSRF token is wrong): 403."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def session_secret(key: bytes) -> str:
    """The cookie-signing key, derived from the installation secret for this one purpose."""
    return hmac.new(key, b"hotline staff session", hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """This session's CSRF token (created on first use), for a hidden field in every form."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def check_csrf(request: Request) -> None:
    """The form field (or header) must equal the token kept in the signed session cookie."""
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not expected or not sent or not secrets.compare_digest(expected, sent):
        raise Forbidden(
            "The form had expired or did not come from this console. Go back, reload the page "
            "and try again."
        )


def sign_in(request: Request, account: StaffAccount) -> None:
    """A fresh session for this account (nothing from before sign-in is kept)."""
    request.session.clear()
    request.session.update(
        {"staff": account.id, "epoch": account.session_epoch, "csrf": secrets.token_urlsafe(32)}
    )


def sign_out(request: Request, runtime: Runtime, staff: Staff) -> None:
    """End every session and API token of the account, then this browser's cookie."""
    with runtime.db.transaction() as session:
        account = session.get(StaffAccount, staff.id)
        if account is not None:
            accounts.end_sessions(session, account)
    request.session.clear()


def _session_staff(runtime: Runtime, staff_id: object, epoch: object) -> Staff | None:
    if not isinstance(staff_id, int) or not isinstance(epoch, int):
        return None
    with runtime.db.sessions() as session:
        account = session.get(StaffAccount, staff_id)
        if account is None or not account.active or account.session_epoch != epoch:
            return None
        return Staff(account.id, account.name, account.role)


def _token_staff(runtime: Runtime, token: str) -> Staff | None:
    with runtime.db.transaction() as session:
        account = accounts.authenticate_token(session, token)
        return Staff(account.id, account.name, account.role) if account else None


class Guard:
    """A dependency that knows its permission, so tests can enumerate what each route needs."""

    permission: Permission | None

    def __init__(self, permission: Permission | None) -> None:
        self.permission = permission

    def _allow(self, staff: Staff) -> Staff:
        if self.permission is not None and not staff.can(self.permission):
            raise Forbidden(f"Your role ({staff.role}) may not do this.")
        return staff


class ConsoleGuard(Guard):
    async def __call__(self, request: Request) -> Staff:
        runtime = get_runtime(request)
        staff = await run_in_threadpool(
            _session_staff, runtime, request.session.get("staff"), request.session.get("epoch")
        )
        if staff is None:
            request.session.pop("staff", None)
            raise SignInRequired
        request.state.staff = staff
        self._allow(staff)
        if request.method not in SAFE_METHODS:
            await check_csrf(request)
        return staff


class ApiGuard(Guard):
    async def __call__(self, request: Request) -> Staff:
        runtime = get_runtime(request)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        staff = None
        if scheme.lower() == "bearer" and token.strip():
            staff = await run_in_threadpool(_token_staff, runtime, token.strip())
        if staff is None:
            raise BadToken
        request.state.staff = staff
        return self._allow(staff)


# What a route's signature asks for: ``staff: KnowledgeWriter`` and so on.
SignedIn = Annotated[Staff, Depends(ConsoleGuard(None))]
DashboardViewer = Annotated[Staff, Depends(ConsoleGuard(Permission.DASHBOARD))]
KnowledgeReader = Annotated[Staff, Depends(ConsoleGuard(Permission.KNOWLEDGE_READ))]
KnowledgeWriter = Annotated[Staff, Depends(ConsoleGuard(Permission.KNOWLEDGE_WRITE))]
RequestReader = Annotated[Staff, Depends(ConsoleGuard(Permission.REQUESTS_READ))]
RequestWriter = Annotated[Staff, Depends(ConsoleGuard(Permission.REQUESTS_WRITE))]
HandoffReader = Annotated[Staff, Depends(ConsoleGuard(Permission.HANDOFFS_READ))]
HandoffWorker = Annotated[Staff, Depends(ConsoleGuard(Permission.HANDOFFS_WORK))]
Admin = Annotated[Staff, Depends(ConsoleGuard(Permission.ACCOUNTS))]

ApiSignedIn = Annotated[Staff, Depends(ApiGuard(None))]
ApiKnowledgeReader = Annotated[Staff, Depends(ApiGuard(Permission.KNOWLEDGE_READ))]
ApiKnowledgeWriter = Annotated[Staff, Depends(ApiGuard(Permission.KNOWLEDGE_WRITE))]
ApiRequestReader = Annotated[Staff, Depends(ApiGuard(Permission.REQUESTS_READ))]
ApiRequestWriter = Annotated[Staff, Depends(ApiGuard(Permission.REQUESTS_WRITE))]
ApiHandoffReader = Annotated[Staff, Depends(ApiGuard(Permission.HANDOFFS_READ))]
ApiPreview = Annotated[Staff, Depends(ApiGuard(Permission.PREVIEW))]
ApiDashboard = Annotated[Staff, Depends(ApiGuard(Permission.DASHBOARD))]
ApiAdmin = Annotated[Staff, Depends(ApiGuard(Permission.ACCOUNTS))]


def _device_mac(runtime: Runtime, name: str, nonce: str) -> str:
    return runtime.hasher(f"staff device:{accounts.normalise_name(name)}:{nonce}")


def remember_device(response: Response, runtime: Runtime, name: str, secure: bool) -> None:
    nonce = secrets.token_urlsafe(16)
    response.set_cookie(
        DEVICE_COOKIE,
        f"{nonce}.{_device_mac(runtime, name, nonce)}",
        max_age=DEVICE_MAX_AGE,
        path="/staff",
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def known_device(request: Request, runtime: Runtime, name: str) -> bool:
    nonce, _, mac = request.cookies.get(DEVICE_COOKIE, "")[:200].partition(".")
    return bool(nonce and mac) and secrets.compare_digest(mac, _device_mac(runtime, name, nonce))


def client_address(request: Request) -> str:
    """The address the connection came from: a proxy's X-Forwarded-For has already replaced
    it only when that proxy is in HOTLINE_TRUSTED_PROXIES (channels/app.py)."""
    return request.client.host if request.client else "unknown"


def sign_in_url(request: Request) -> str:
    path = request.url.path
    if request.url.query:
        path = f"{path}?{request.url.query}"
    return f"/staff/login?next={quote(path, safe='')}"


def safe_next(target: str | None) -> str:
    """Only a console path may follow sign-in (no open redirect)."""
    if (
        target
        and target.startswith("/staff")
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return "/staff"
