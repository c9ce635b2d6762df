"""The password policy: long enough, not the staff name, not common, not a repeat or a run.

zxcvbn (Dropbox's estimator) knows the common-password lists, English words and names,
keyboard walks, dates, repeats and sequences; the staff name, its parts and the role are given
to it as words an attacker would try first. A password needs an estimated 10^8 guesses
(zxcvbn's score 3, "safely unguessable" against an online attacker and good against argon2
offline); a few unrelated words pass easily.
"""

from __future__ import annotations

import re

from zxcvbn import zxcvbn

MIN_LENGTH = 10
MAX_LENGTH = 1024
MIN_SCORE = 3
ESTIMATED_CHARS = 72  # zxcvbn's own cap: it grows slow on longer input; the rest only adds
CONTEXT_WORDS = ("hotline", "staff", "console", "password")


class WeakPassword(ValueError):
    """Why the password is refused, in words for the person choosing it."""


def check(password: str, name: str, role: str = "") -> None:
    """Raise WeakPassword with the reason, or return for a password the policy accepts."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password may have at most {MAX_LENGTH} characters")
    name = name.strip().casefold()
    parts = [name, *re.split(r"[._@-]+", name)]
    rest = password.casefold()
    for part in sorted({p for p in parts if len(p) >= 3}, key=len, reverse=True):
        rest = rest.replace(part, "")
    if len(rest) < MIN_LENGTH and rest != password.casefold():
        raise WeakPassword("a password must not be the staff name, nor be built on it")
    words = [*parts, role, *CONTEXT_WORDS]
    result = zxcvbn(password[:ESTIMATED_CHARS], user_inputs=[w for w in words if w])
    if result["score"] >= MIN_SCORE:
        return
    feedback = result["feedback"]
    reasons = [feedback.get("warning") or "It follows a pattern that is quick to guess."]
    reasons += feedback.get("suggestions") or []
    advice = " ".join(r.strip() for r in reasons if r.strip()).rstrip(".")
    raise WeakPassword(f"that password is too easy to guess: {advice}")
