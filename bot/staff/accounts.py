"""Create and authenticate staff accounts and their API tokens.

Passwords are hashed with argon2id (argon2-cffi) and must pass the policy in ``passwords``;
API tokens are 256-bit random strings, so a plain SHA-256 of them is enough to look them up
without keeping them.

Sessions: every console cookie carries the account's ``session_epoch``. Signing out, a new
password, a new role and (de)activation all call ``end_sessions``, which bumps the epoch (every
cookie issued before stops working, copies included) and revokes every live API token of the
account, so nothing issued before comes back, not even on reactivation.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.staff import passwords
from bot.staff.models import ApiToken, StaffAccount
from bot.staff.roles import ROLES

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,79}$")
MAX_PASSWORD = passwords.MAX_LENGTH
TOKEN_PREFIX = "hls_"
LAST_USED_GRANULARITY = timedelta(minutes=1)

_hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A request about accounts that cannot be carried out (the message is for the operator)."""


def _now() -> datetime:
    return datetime.now(UTC)


def normalise_name(name: str) -> str:
    return name.strip().casefold()


_WORD = re.compile(r"[^\W\d_]{2,}(?:-[^\W\d_]+)*")  # letters, maybe hyphenated: "jo-anne"


def first_name(name: str) -> str:
    """How a member of staff signs to residents: "maria.lopez@city" -> "Maria".

    The first part of the sign-in name that is a word of two letters or more ("jo-anne_smith"
    -> "Jo-Anne"); the whole local part when there is none ("m.l" -> "M.l").
    """
    local = normalise_name(name).split("@", 1)[0]
    words = [w for w in re.split(r"[._]+", local) if _WORD.fullmatch(w)]
    word = words[0] if words else local
    return "-".join(part[:1].upper() + part[1:] for part in word.split("-"))


def _check_name(name: str) -> str:
    name = normalise_name(name)
    if not NAME_PATTERN.fullmatch(name):
        raise AccountError(
            "a staff name is 2 to 80 characters: letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; choose one of {', '.join(sorted(ROLES))}")
    return role


def _check_password(password: str, name: str, role: str) -> str:
    try:
        passwords.check(password, name, role)
    except passwords.WeakPassword as exc:
        raise AccountError(str(exc)) from exc
    return password


def find(session: Session, name: str) -> StaffAccount | None:
    return session.scalar(select(StaffAccount).where(StaffAccount.name == normalise_name(name)))


def create_account(session: Session, name: str, password: str, role: str) -> StaffAccount:
    name, role = _check_name(name), _check_role(role)
    _check_password(password, name, role)
    if find(session, name) is not None:
        raise AccountError(f"there is already a staff account called {name!r}")
    account = StaffAccount(
        name=name, password_hash=_hasher.hash(password), role=role, active=True, session_epoch=0
    )
    session.add(account)
    session.flush()
    return account


def authenticate(session: Session, name: str, password: str) -> StaffAccount | None:
    """The active account with that name and password, else None (never says which was wrong)."""
    account = find(session, name) if len(password) <= MAX_PASSWORD else None
    try:
        _hasher.verify(account.password_hash if account else _DUMMY_HASH, password[:MAX_PASSWORD])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if account is None or not account.active:
        return None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    account.last_login_at = _now()
    return account


def end_sessions(session: Session, account: StaffAccount) -> int:
    """Sign the account out everywhere and revoke its live API tokens; returns how many."""
    account.session_epoch += 1
    live = session.scalars(
        select(ApiToken).where(ApiToken.account_id == account.id, ApiToken.revoked_at.is_(None))
    ).all()
    now = _now()
    for token in live:
        token.revoked_at = now
    session.flush()
    return len(live)


def set_password(session: Session, account: StaffAccount, password: str) -> None:
    account.password_hash = _hasher.hash(_check_password(password, account.name, account.role))
    end_sessions(session, account)


def set_role(session: Session, account: StaffAccount, role: str) -> None:
    if _check_role(role) != account.role:
        account.role = role
        end_sessions(session, account)


def set_active(session: Session, account: StaffAccount, active: bool) -> None:
    if not active and account.role == "admin" and account.active and _active_admins(session) <= 1:
        raise AccountError("the last active admin cannot be deactivated")
    if active != account.active:
        account.active = active
        end_sessions(session, account)


def change_account(
    session: Session,
    account: StaffAccount,
    *,
    role: str | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> None:
    """What an admin changes about an account; any change signs it out everywhere."""
    if role and role != account.role:
        if account.role == "admin" and account.active and _active_admins(session) <= 1:
            raise AccountError("the last active admin must stay an admin")
        set_role(session, account, role)
    if active is not None:
        set_active(session, account, active)
    if password:
        set_password(session, account, password)


def _active_admins(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(StaffAccount)
            .where(StaffAccount.role == "admin", StaffAccount.active.is_(True))
        )
        or 0
    )


def has_admin(session: Session) -> bool:
    return _active_admins(session) > 0


def accounts(session: Session) -> list[StaffAccount]:
    return list(session.scalars(select(StaffAccount).order_by(StaffAccount.name)))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, account: StaffAccount, name: str) -> tuple[ApiToken, str]:
    """A new token; the clear text is returned once and never stored."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 80:
        raise AccountError("a token needs a name of 1 to 80 characters (what it is for)")
    taken = session.scalar(
        select(ApiToken).where(
            ApiToken.account_id == account.id, ApiToken.name == name, ApiToken.revoked_at.is_(None)
        )
    )
    if taken is not None:
        raise AccountError(f"you already have a token called {name!r}")
    secret = secrets.token_urlsafe(32)
    token = ApiToken(
        account_id=account.id,
        name=name,
        token_hash=_token_hash(TOKEN_PREFIX + secret),
        prefix=TOKEN_PREFIX + secret[:6],
    )
    session.add(token)
    session.flush()
    return token, TOKEN_PREFIX + secret


def tokens(session: Session, account: StaffAccount) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.account_id == account.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.created_at.desc())
        )
    )


def revoke_token(session: Session, account: StaffAccount, token_id: int) -> bool:
    token = session.get(ApiToken, token_id)
    if token is None or token.account_id != account.id or token.revoked_at is not None:
        return False
    token.revoked_at = _now()
    session.flush()
    return True


def authenticate_token(session: Session, token: str) -> StaffAccount | None:
    """The active account a live token belongs to, else None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    account = session.get(StaffAccount, row.account_id)
    if account is None or not account.active:
        return None
    now = _now()
    last = row.last_used_at
    if last is None or now - (last if last.tzinfo else last.replace(tzinfo=UTC)) > (
        LAST_USED_GRANULARITY
    ):
        row.last_used_at = now
    return account
