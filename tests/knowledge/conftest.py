"""Real parts for the knowledge tests: the packaged model (loaded once), SQLite files, FAISS."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from knowledge.embedder import Embedder, load_embedder
from knowledge.models import KnowledgeBase
from knowledge.schema import ArticleData
from knowledge.service import KnowledgeService

ArticleFactory = Callable[..., ArticleData]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return load_embedder()


@pytest.fixture
def encoded(embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the shared embedder encodes in batch during the test, in order."""
    texts: list[str] = []
    original = embedder.encode

    def counting(batch: Sequence[str]) -> np.ndarray:
        texts.extend(batch)
        return original(batch)

    monkeypatch.setattr(embedder, "encode", counting)
    return texts


def sessions_for(path: Path) -> sessionmaker[Session]:
    """A session factory on a SQLite file, as another app process would open it."""
    engine = create_engine(f"sqlite:///{path}")
    KnowledgeBase.metadata.create_all(engine)
    return sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "kb.sqlite"


@pytest.fixture
def service(db_path: Path) -> Iterator[KnowledgeService]:
    factory = sessions_for(db_path)
    yield KnowledgeService(factory)
    engine = factory.kw["bind"]
    engine.dispose()


ARTICLES: dict[str, dict[str, Any]] = {
    "bulky-waste": {
        "title": "Bulky waste pickup",
        "short_answer": "Book a free bulky waste pickup by calling 311; we collect on Fridays.",
        "answer": "Sofas, mattresses and fridges are collected on Fridays after you book.",
        "questions": ["How do I get rid of an old sofa?", "Can you collect my mattress?"],
        "category": "waste",
        "department": "Sanitation",
    },
    "parking-ticket": {
        "title": "Paying a parking ticket",
        "short_answer": "Pay a parking ticket online, by phone or at City Hall within 30 days.",
        "answer": "Use the citation number printed on the ticket. Late payments cost 25 dollars.",
        "questions": ["How do I pay a parking fine?", "Where can I pay my parking ticket?"],
        "category": "transport",
        "department": "Parking Authority",
    },
    "dog-licence": {
        "title": "Dog licence",
        "short_answer": "Every dog over four months needs a yearly licence from Animal Services.",
        "answer": "Bring proof of rabies vaccination. The licence costs 20 dollars a year.",
        "questions": ["Do I need a licence for my dog?", "How much is a dog licence?"],
        "category": "animals",
        "department": "Animal Services",
    },
}


@pytest.fixture
def make_article() -> ArticleFactory:
    """ArticleData for one of ARTICLES, with any field overridden."""

    def make(key: str = "bulky-waste", **changes: Any) -> ArticleData:
        fields = {
            "slug": key,
            "source_url": f"https://city.example/{key}",
            **ARTICLES[key],
            **changes,
        }
        return ArticleData(**fields)

    return make
