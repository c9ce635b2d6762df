"""Sign-in throttling: an exponential delay, never a lock.

Each sign-in is counted under three keys: the pair (account, address), the address alone
(one address trying many names) and the account alone (many addresses trying one name). Under
each key the first failures are free; after them a further attempt must wait 1 s, 2 s, 4 s …
since the last failure, up to a cap. The pair and the address wait up to 15 minutes; the
account alone waits at most a minute, and only after more failures than one address can make
quickly, so an attacker slows only themself: ten wrong passwords from one address leave the
real person, at another address, free to sign in at once. A browser that has signed in to
the account before (it shows a device cookie, OWASP's "device cookies") is not counted under
the account alone at all, so not even an attack from many addresses slows its owner. A wait
is refused before the password is checked, so waiting is the only way on.

An attempt is counted as a failure when it starts (so parallel guesses cannot all slip through
one open window) and taken back when it succeeds. Counters live in the database, so every
instance sees the same counts; a key quiet for an hour is forgotten.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.staff.models import SignInFailures

FORGET_AFTER = timedelta(hours=1)
FIRST_DELAY = timedelta(seconds=1)


@dataclass(frozen=True)
class Rule:
    kind: str
    free: int  # failures before any delay
    cap: timedelta  # the longest delay

    def delay(self, failures: int) -> timedelta:
        if failures < self.free:
            return timedelta()
        return min(self.cap, FIRST_DELAY * 2 ** min(failures - self.free, 30))


PAIR = Rule("pair", free=5, cap=timedelta(minutes=15))
ADDRESS = Rule("address", free=20, cap=timedelta(minutes=15))
ACCOUNT = Rule("account", free=20, cap=timedelta(minutes=1))


@dataclass(frozen=True)
class Attempt:
    """The keys one sign-in is counted under (keyed hashes: no name or address in clear)."""

    account: str
    address: str
    known_device: bool = False  # this browser signed in to this account before

    @property
    def address_key(self) -> str:
        return f"a:{self.address[:64]}"

    @property
    def account_key(self) -> str:
        return f"n:{self.account[:64]}"

    def counters(self) -> list[tuple[Rule, str]]:
        counted = [(PAIR, f"p:{self.account[:38]}{self.address[:38]}"), (ADDRESS, self.address_key)]
        return counted if self.known_device else [*counted, (ACCOUNT, self.account_key)]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _rows(session: Session, keys: Sequence[str], now: datetime) -> dict[str, SignInFailures]:
    """The counters for these keys, created if new and locked for this transaction."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(SignInFailures)
        .values([{"key": k, "failures": 0, "last_failed_at": now} for k in keys])
        .on_conflict_do_nothing(index_elements=["key"])
    )
    query = select(SignInFailures).where(SignInFailures.key.in_(keys)).with_for_update()
    return {row.key: row for row in session.scalars(query)}


def begin(session: Session, attempt: Attempt, now: datetime) -> int:
    """Seconds to wait before this attempt may be made (0: go ahead, and it is counted)."""
    forgotten = SignInFailures.last_failed_at < now - FORGET_AFTER
    session.execute(delete(SignInFailures).where(forgotten))
    keys = attempt.counters()
    rows = _rows(session, [key for _, key in keys], now)
    wait = timedelta()
    for rule, key in keys:
        row = rows[key]
        wait = max(wait, _aware(row.last_failed_at) + rule.delay(row.failures) - now)
    if wait > timedelta():
        return max(1, math.ceil(wait.total_seconds()))
    for _, key in keys:
        rows[key].failures += 1
        rows[key].last_failed_at = now
    return 0


def succeeded(session: Session, attempt: Attempt) -> None:
    """The password was right: the account's counters go, the address's count is taken back."""
    account_keys = [key for rule, key in attempt.counters() if rule is PAIR]
    account_keys.append(attempt.account_key)
    session.execute(delete(SignInFailures).where(SignInFailures.key.in_(account_keys)))
    address = session.get(SignInFailures, attempt.address_key)
    if address is not None and address.failures > 0:
        address.failures -= 1
