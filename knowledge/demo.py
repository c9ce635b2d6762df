"""The demo knowledge base shipped in knowledge/demo/, so a fresh install answers questions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from knowledge.schema import ArticleData, ImportReport, describe
from knowledge.service import KnowledgeService

DEMO_DIR = Path(__file__).with_name("demo")


def _items(path: Path) -> list[dict[str, Any]]:
    content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return list(content.get("articles") or [])


def load_demo_articles(directory: Path = DEMO_DIR) -> list[ArticleData]:
    """Every article of every articles_*.yml; a bad one names its file and position."""
    articles = []
    for path in sorted(directory.glob("articles_*.yml")):
        for number, item in enumerate(_items(path), start=1):
            try:
                articles.append(ArticleData.model_validate(item))
            except ValidationError as error:
                raise ValueError(f"{path.name}, article {number}: {describe(error)}") from error
    return articles


def seed_demo(service: KnowledgeService, author: str = "demo") -> ImportReport | None:
    """Import the demo articles into a knowledge base that has never been changed.

    Keyed on the version rather than on emptiness, so a KB whose staff retired everything
    is not seeded again.
    """
    if service.version() != 0:
        return None
    items = [article.model_dump() for article in load_demo_articles()]
    return service.import_articles(items, author)
