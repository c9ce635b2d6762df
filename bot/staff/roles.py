"""Roles and what each may do, in one table: routes ask for a permission, never for a role."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    KNOWLEDGE_READ = "knowledge.read"
    KNOWLEDGE_WRITE = "knowledge.write"
    REQUESTS_READ = "requests.read"
    REQUESTS_WRITE = "requests.write"
    HANDOFFS_READ = "handoffs.read"
    HANDOFFS_WORK = "handoffs.work"
    PREVIEW = "preview"
    DASHBOARD = "dashboard"
    ACCOUNTS = "accounts"


ROLES: dict[str, frozenset[Permission]] = {
    # knowledge curation; sees unanswered questions (knowledge.read) and turns them into articles
    "editor": frozenset(
        {
            Permission.KNOWLEDGE_READ,
            Permission.KNOWLEDGE_WRITE,
            Permission.PREVIEW,
            Permission.DASHBOARD,
        }
    ),
    # request desk and handoffs; reads the knowledge base to answer residents
    "agent": frozenset(
        {
            Permission.KNOWLEDGE_READ,
            Permission.REQUESTS_READ,
            Permission.REQUESTS_WRITE,
            Permission.HANDOFFS_READ,
            Permission.HANDOFFS_WORK,
            Permission.PREVIEW,
            Permission.DASHBOARD,
        }
    ),
    # read-only everywhere, plus trying the bot
    "qa": frozenset(
        {
            Permission.KNOWLEDGE_READ,
            Permission.REQUESTS_READ,
            Permission.HANDOFFS_READ,
            Permission.PREVIEW,
            Permission.DASHBOARD,
        }
    ),
    "admin": frozenset(Permission),
}

# Fewest rights first. A new account gets the first unless someone chooses more: qa can look
# but change nothing a resident sees or gets.
ROLE_ORDER = ("qa", "editor", "agent", "admin")
LEAST_ROLE = ROLE_ORDER[0]
assert set(ROLE_ORDER) == set(ROLES)


def allows(role: str, permission: Permission) -> bool:
    return permission in ROLES.get(role, frozenset())
