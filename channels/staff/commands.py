"""What `hotline staff add|key` and `hotline serve` need: create an account or an integration
key, say how to make the first admin. Only the database is opened, not the whole runtime (no
model is loaded)."""

from __future__ import annotations

from bot import integrations
from bot.settings import Settings
from bot.staff import accounts
from bot.storage.db import Database

FIRST_ADMIN_HINT = (
    "No staff account can sign in to the console yet. Create the first admin with:\n"
    "  hotline staff add NAME --role admin\n"
    "(it asks for a password, or reads HOTLINE_STAFF_PASSWORD), then sign in at {url}/staff"
)


def _database(settings: Settings) -> Database:
    database = Database(settings.db_url)
    database.migrate()
    return database


def add_staff(settings: Settings, name: str, role: str, password: str) -> str:
    """Create the account; returns its normalised name. Raises AccountError with the reason."""
    database = _database(settings)
    try:
        with database.transaction() as session:
            return accounts.create_account(session, name, password, role).name
    finally:
        database.engine.dispose()


def add_integration_key(settings: Settings, name: str, channels: list[str]) -> tuple[str, str]:
    """A new integration key: its scope (as text) and its clear text, shown once."""
    database = _database(settings)
    try:
        with database.transaction() as session:
            row, secret = integrations.create_key(session, name, channels, "command line")
            return ", ".join(row.channels), secret
    finally:
        database.engine.dispose()


def first_admin_hint(settings: Settings, url: str) -> str | None:
    """The instructions when no active admin exists yet, else None."""
    database = _database(settings)
    try:
        with database.sessions() as session:
            return None if accounts.has_admin(session) else FIRST_ADMIN_HINT.format(url=url)
    finally:
        database.engine.dispose()
