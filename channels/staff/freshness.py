"""After a change in the console, this process's index answers with it at once; other app
processes follow within their refresh interval, since every change bumps the KB version."""

from __future__ import annotations

from typing import Literal

from bot.runtime import Runtime
from knowledge.schema import ArticleView
from knowledge.search import KnowledgeSearch

StatusAction = Literal["publish", "retire", "restore"]


def refresh_now(search: KnowledgeSearch) -> None:
    search.ensure_fresh(force=True)


def set_article_status(
    rt: Runtime, article_id: int, action: StatusAction, author: str
) -> ArticleView:
    """Publish, retire or restore an article (console page and staff API alike)."""
    change = {
        "publish": rt.knowledge.publish,
        "retire": rt.knowledge.retire,
        "restore": rt.knowledge.restore,
    }[action]
    article = change(article_id, author)
    refresh_now(rt.search)
    return article
