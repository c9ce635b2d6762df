"""Staff accounts and API tokens: argon2 hashes, uniform refusals, revocation."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from bot.staff import accounts
from bot.staff.models import ApiToken, StaffAccount
from bot.staff.roles import ROLES, Permission, allows
from bot.storage.db import Database

PASSWORD = "a long enough passphrase"


def unique(prefix: str = "staff") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_password_is_hashed_with_argon2id_and_checked(db: Database) -> None:
    name = unique()
    with db.transaction() as session:
        account = accounts.create_account(session, name.upper(), PASSWORD, "editor")
        assert account.name == name  # names are case-insensitive
        assert account.password_hash.startswith("$argon2id$")
        assert PASSWORD not in account.password_hash
    with db.transaction() as session:
        assert accounts.authenticate(session, name, PASSWORD) is not None
        assert accounts.authenticate(session, f" {name.title()} ", PASSWORD) is not None
        assert accounts.authenticate(session, name, PASSWORD + "x") is None
        assert accounts.authenticate(session, unique("nobody"), PASSWORD) is None
        assert accounts.authenticate(session, name, "x" * 100_000) is None  # huge, not hashed


@pytest.mark.parametrize(
    ("name", "password", "role", "problem"),
    [
        ("ok-name", "short", "editor", "at least 10"),
        ("x", PASSWORD, "editor", "2 to 80"),
        ("bad name!", PASSWORD, "editor", "2 to 80"),
        ("<script>", PASSWORD, "editor", "2 to 80"),
        ("ok-name", PASSWORD, "superuser", "unknown role"),
        ("ok-name", "p" * 2000, "editor", "at most"),
    ],
)
def test_bad_accounts_are_refused_with_the_reason(
    db: Database, name: str, password: str, role: str, problem: str
) -> None:
    with pytest.raises(accounts.AccountError, match=problem), db.transaction() as session:
        accounts.create_account(session, name, password, role)


@pytest.mark.parametrize(
    ("name", "password", "problem"),
    [
        ("robin.leeson", "robin.leeson", "not be the staff name"),
        ("robin.leeson", "ROBIN-LEESON!", "not be the staff name"),
        ("robin.leeson", "robin.leeson2026", "not be the staff name"),
        ("robin.leeson", "robinrobinrobin", "not be the staff name"),
        ("kim", "aaaaaaaaaa", "too easy to guess: Repeats"),
        ("kim", "abcabcabcabc", "too easy to guess: Repeats"),
        ("kim", "1234567890", "common password"),
        ("kim", "password123", "common password"),
        ("kim", "qwertyuiop", "common password"),
        ("kim", "abcdefghijklmn", "Sequences"),
        ("kim", "iloveyou2024", "too easy to guess"),
        ("kim", "x" * 1025, "at most 1024"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(
    db: Database, name: str, password: str, problem: str
) -> None:
    name = f"{name}{uuid.uuid4().hex[:4]}" if name == "kim" else name
    with pytest.raises(accounts.AccountError, match=problem), db.transaction() as session:
        accounts.create_account(session, name, password, "editor")


def test_strong_passwords_pass_and_a_reset_is_checked_too(db: Database) -> None:
    name = unique("robin")
    with db.transaction() as session:
        account = accounts.create_account(session, name, "robin keeps seven lanterns", "agent")
        for weak in (name, "aaaaaaaaaaaa", "letmein123"):
            with pytest.raises(accounts.AccountError):
                accounts.set_password(session, account, weak)
        accounts.set_password(session, account, "Umbrella canyon 42 fjord")


def test_duplicate_name_is_refused(db: Database) -> None:
    name = unique()
    with db.transaction() as session:
        accounts.create_account(session, name, PASSWORD, "agent")
    with pytest.raises(accounts.AccountError, match="already"), db.transaction() as session:
        accounts.create_account(session, name.upper(), PASSWORD, "agent")


def test_deactivated_account_cannot_sign_in_and_its_sessions_end(db: Database) -> None:
    name = unique()
    with db.transaction() as session:
        account = accounts.create_account(session, name, PASSWORD, "agent")
        epoch = account.session_epoch
        accounts.set_active(session, account, False)
        assert account.session_epoch == epoch + 1
    with db.transaction() as session:
        assert accounts.authenticate(session, name, PASSWORD) is None


def test_last_admin_cannot_be_deactivated(tmp_path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'alone.db'}")
    database.migrate()
    with database.transaction() as session:
        assert not accounts.has_admin(session)
        admin = accounts.create_account(session, "only-admin", PASSWORD, "admin")
        assert accounts.has_admin(session)
        with pytest.raises(accounts.AccountError, match="last active admin"):
            accounts.set_active(session, admin, False)


def test_api_tokens_are_stored_hashed_shown_once_and_revocable(db: Database) -> None:
    with db.transaction() as session:
        account = accounts.create_account(session, unique(), PASSWORD, "qa")
        token, secret = accounts.create_token(session, account, "nightly export")
        account_id, token_id = account.id, token.id
    with db.transaction() as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
        assert secret not in stored and all(secret not in h for h in stored)
        assert accounts.authenticate_token(session, secret).id == account_id
        forged = secret[:-1] + ("B" if secret.endswith("A") else "A")
        assert accounts.authenticate_token(session, forged) is None
        assert accounts.authenticate_token(session, "not a token") is None
        with pytest.raises(accounts.AccountError, match="already have"):
            accounts.create_token(session, session.get(StaffAccount, account_id), "nightly export")
    with db.transaction() as session:
        account = session.get(StaffAccount, account_id)
        assert accounts.revoke_token(session, account, token_id)
        assert not accounts.revoke_token(session, account, token_id)  # twice: nothing to do
        assert accounts.authenticate_token(session, secret) is None
        _, again = accounts.create_token(session, account, "nightly export")  # name free again
        accounts.set_active(session, account, False)
        assert accounts.authenticate_token(session, again) is None  # inactive account


def test_roles_table() -> None:
    assert set(ROLES) == {"editor", "agent", "admin", "qa"}
    assert allows("editor", Permission.KNOWLEDGE_WRITE)
    assert not allows("editor", Permission.REQUESTS_WRITE)
    assert allows("agent", Permission.HANDOFFS_WORK)
    assert not allows("agent", Permission.KNOWLEDGE_WRITE)
    assert not any(allows("qa", p) for p in Permission if p.name.endswith(("WRITE", "WORK")))
    assert all(allows("admin", p) for p in Permission)
    assert not allows("nobody", Permission.DASHBOARD)
