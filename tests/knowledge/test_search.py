"""KnowledgeSearch follows the database across service instances and processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from knowledge.embedder import Embedder
from knowledge.index import FILE_NAME, KnowledgeIndex
from knowledge.search import KnowledgeSearch
from knowledge.service import KnowledgeService

from .conftest import ARTICLES, ArticleFactory, sessions_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def seeded(service: KnowledgeService, make_article: ArticleFactory) -> KnowledgeService:
    for key in ARTICLES:
        service.create(make_article(key), "ana")
    return service


def slugs(search: KnowledgeSearch, text: str) -> list[str]:
    return [hit.slug for hit in search.search(text)]


def test_a_fresh_instance_loads_the_saved_index_without_encoding(
    seeded: KnowledgeService, embedder: Embedder, tmp_path: Path, encoded: list[str]
) -> None:
    first = KnowledgeSearch(seeded, embedder, tmp_path / "index")
    first.ensure_fresh()
    assert len(encoded) == 9  # 3 titles + 6 questions
    assert (tmp_path / "index" / FILE_NAME).exists()

    second = KnowledgeSearch(seeded, embedder, tmp_path / "index")
    second.ensure_fresh()

    assert len(encoded) == 9
    assert second.index is not None and second.index.version == seeded.version() == 3
    assert slugs(second, "get rid of a mattress")[0] == "bulky-waste"


def test_a_change_by_another_process_is_picked_up_incrementally(
    seeded: KnowledgeService, embedder: Embedder, db_path: Path, tmp_path: Path, encoded: list[str]
) -> None:
    search = KnowledgeSearch(seeded, embedder, tmp_path / "index", refresh_interval=0)
    assert slugs(search, "licence for my ferret")[0] != "parking-ticket"
    script = textwrap.dedent(
        """
        import sys
        from sqlalchemy import create_engine
        from sqlalchemy.orm import sessionmaker
        from knowledge.schema import CONTENT_FIELDS, ArticleData
        from knowledge.service import KnowledgeService

        other = KnowledgeService(sessionmaker(create_engine(f"sqlite:///{sys.argv[1]}")))
        article = other.get_by_slug("parking-ticket")
        data = article.model_dump(include=set(CONTENT_FIELDS))
        data["questions"].append("Do ferrets need a licence?")
        other.update(article.id, ArticleData(**data), "other-process")
        other.retire(other.get_by_slug("bulky-waste").id, "other-process")
        """
    )
    subprocess.run([sys.executable, "-c", script, str(db_path)], cwd=ROOT, check=True)
    before = len(encoded)

    found = slugs(search, "licence for my ferret")

    assert found[0] == "parking-ticket"
    assert encoded[before:] == ["Do ferrets need a licence?"]
    assert "bulky-waste" not in slugs(search, "get rid of a mattress")
    assert search.index is not None and search.index.version == 5
    assert KnowledgeIndex.load(tmp_path / "index").version == 5


def test_the_database_is_asked_at_most_once_per_interval(
    seeded: KnowledgeService, embedder: Embedder, db_path: Path, tmp_path: Path
) -> None:
    search = KnowledgeSearch(seeded, embedder, tmp_path / "index", refresh_interval=3600)
    search.ensure_fresh()
    other = KnowledgeService(sessions_for(db_path))  # another app instance on the same DB file
    article = other.get_by_slug("dog-licence")
    assert article is not None
    other.retire(article.id, "ben")

    assert slugs(search, "dog licence")[0] == "dog-licence"  # not checked again yet
    search.refresh_interval = 0
    assert "dog-licence" not in slugs(search, "dog licence")


def test_a_saved_index_behind_the_database_is_brought_forward(
    seeded: KnowledgeService,
    embedder: Embedder,
    make_article: ArticleFactory,
    tmp_path: Path,
    encoded: list[str],
) -> None:
    KnowledgeSearch(seeded, embedder, tmp_path / "index").ensure_fresh()
    article = seeded.get_by_slug("bulky-waste")
    assert article is not None
    seeded.update(article.id, make_article(questions=["Do you take old fridges?"]), "ben")
    before = len(encoded)

    restarted = KnowledgeSearch(seeded, embedder, tmp_path / "index")

    assert slugs(restarted, "collect a broken fridge")[0] == "bulky-waste"
    assert encoded[before:] == ["Do you take old fridges?"]


def test_an_index_from_another_database_is_rebuilt(
    seeded: KnowledgeService, embedder: Embedder, tmp_path: Path, make_article: ArticleFactory
) -> None:
    KnowledgeSearch(seeded, embedder, tmp_path / "index").ensure_fresh()  # version 3
    fresh = KnowledgeService(sessions_for(tmp_path / "new.sqlite"))
    fresh.create(make_article("dog-licence"), "ana")  # version 1, a different KB

    search = KnowledgeSearch(fresh, embedder, tmp_path / "index")

    assert slugs(search, "pay a parking ticket") == ["dog-licence"]


def test_an_unreadable_saved_index_is_rebuilt_and_an_unwritable_dir_is_survived(
    seeded: KnowledgeService, embedder: Embedder, tmp_path: Path
) -> None:
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / FILE_NAME).write_bytes(b"PK\x03\x04 not really a zip")
    assert slugs(KnowledgeSearch(seeded, embedder, tmp_path / "index"), "dog")[0] == "dog-licence"

    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert slugs(KnowledgeSearch(seeded, embedder, blocked), "dog")[0] == "dog-licence"


def test_an_empty_query_does_not_touch_the_index(
    seeded: KnowledgeService, embedder: Embedder, tmp_path: Path
) -> None:
    search = KnowledgeSearch(seeded, embedder, tmp_path / "index")
    assert search.search("   ") == []
    assert search.index is None
