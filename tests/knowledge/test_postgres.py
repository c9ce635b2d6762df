"""The same service on PostgreSQL: portable types, and concurrent writers get distinct versions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from knowledge.models import KnowledgeBase
from knowledge.service import KnowledgeService
from tests.databases import NEEDS_POSTGRES, POSTGRES_URL

from .conftest import ARTICLES, ArticleFactory

URL = POSTGRES_URL
pytestmark = [pytest.mark.postgres, NEEDS_POSTGRES]


@pytest.fixture
def pg_sessions() -> Iterator[sessionmaker[Session]]:
    """A private schema, so this test shares the server with others without touching them."""
    assert URL is not None
    schema = f"kb_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(URL, connect_args={"options": f"-csearch_path={schema}"})
    KnowledgeBase.metadata.create_all(engine)
    try:
        yield sessionmaker(engine, expire_on_commit=False)
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_articles_round_trip_and_concurrent_writers_get_distinct_versions(
    pg_sessions: sessionmaker[Session], make_article: ArticleFactory
) -> None:
    service = KnowledgeService(pg_sessions)
    sofa = service.create(make_article(valid_to=date(2031, 5, 1)), "ana")
    writes = [
        lambda: service.create(make_article("dog-licence"), "ben"),
        lambda: service.create(make_article("parking-ticket"), "cy"),
        lambda: service.update(sofa.id, make_article(answer="Fridays only."), "dee"),
    ]

    with ThreadPoolExecutor(max_workers=len(writes)) as pool:
        results = [future.result() for future in [pool.submit(write) for write in writes]]

    assert service.version() == 4
    upsert, remove = service.changed_since(1)
    assert sorted(a.slug for a in upsert) == sorted(ARTICLES) and remove == []
    stored = service.get(sofa.id)
    assert stored is not None and stored in results
    assert (stored.answer, stored.valid_to, stored.questions) == (
        "Fridays only.",
        None,
        make_article().questions,
    )
    assert service.revisions(sofa.id)[0].valid_to == date(2031, 5, 1)
    assert stored.updated_at.tzinfo is not None
    assert [a.slug for a in service.list(text="fridays")] == ["bulky-waste"]
