"""After a change in the console, this process's index answers with it at once; other app
processes follow within their refresh interval, since every change bumps the KB version."""

from __future__ import annotations

from knowledge.search import KnowledgeSearch


def refresh_now(search: KnowledgeSearch) -> None:
    search.ensure_fresh(force=True)
