"""The fused index: right answers first, incremental changes, expiry, persistence, odd input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from knowledge.embedder import Embedder
from knowledge.index import DENSE_WEIGHT, KnowledgeIndex, fuse
from knowledge.schema import ArticleView

from .conftest import ARTICLES, ArticleFactory


@pytest.fixture
def view(make_article: ArticleFactory) -> Any:
    ids = {key: number for number, key in enumerate(ARTICLES, start=1)}

    def make(key: str, **changes: Any) -> ArticleView:
        data = make_article(key, **changes).model_dump()
        now = datetime.now(UTC)
        return ArticleView(id=ids[key], revision=1, updated_at=now, author="t", **data)

    return make


@pytest.fixture
def index(view: Any, embedder: Embedder) -> KnowledgeIndex:
    built = KnowledgeIndex()
    built.build([view(key) for key in ARTICLES], embedder, version=3)
    return built


def top(index: KnowledgeIndex, embedder: Embedder, text: str, **options: Any) -> list[str]:
    return [hit.slug for hit in index.search(text, embedder.encode_one(text), **options)]


def test_paraphrases_find_their_article(index: KnowledgeIndex, embedder: Embedder) -> None:
    assert top(index, embedder, "someone to take away my old couch")[0] == "bulky-waste"
    assert top(index, embedder, "I got a ticket for parking, how to pay")[0] == "parking-ticket"
    assert top(index, embedder, "registering my puppy")[0] == "dog-licence"


def test_hits_carry_both_scores_on_an_absolute_scale(
    index: KnowledgeIndex, embedder: Embedder
) -> None:
    text = "Where can I pay my parking ticket?"
    hits = index.search(text, embedder.encode_one(text), k=3)
    best = hits[0]
    assert best.matched == "Where can I pay my parking ticket?"
    assert best.dense == pytest.approx(1.0, abs=1e-4) and best.lexical > 0
    assert best.score == pytest.approx(fuse(best.dense, best.lexical))
    assert DENSE_WEIGHT < best.score < 1.0  # a full dense match plus some lexical evidence
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    unrelated = "what is the capital of mongolia"
    assert index.search(unrelated, embedder.encode_one(unrelated))[0].score < 0.4


def test_upsert_and_remove_keep_search_right_without_re_encoding(
    index: KnowledgeIndex, embedder: Embedder, view: Any, encoded: list[str]
) -> None:
    changed = view(
        "dog-licence",
        title="Pet licence",
        questions=["Do I need a licence for my dog?", "Does my cat need a licence?"],
    )
    encoded_count = index.upsert(
        [view("bulky-waste"), changed, view("parking-ticket", status="archived")],
        embedder,
        version=4,
    )

    assert encoded == ["Pet licence", "Does my cat need a licence?"]
    assert encoded_count == 2
    assert index.version == 4 and len(index) == 2
    cat = top(index, embedder, "licence for a cat")
    assert cat[0] == "dog-licence"
    assert "parking-ticket" not in top(index, embedder, "pay my parking ticket", k=5)
    hit = index.search("cat", embedder.encode_one("cat"))[0]
    assert hit.title == "Pet licence"

    index.remove([1], version=5)
    assert top(index, embedder, "old sofa", k=5) == ["dog-licence"]
    index.upsert([view("parking-ticket")], embedder, version=6)
    assert encoded[2:] == [
        ARTICLES["parking-ticket"]["title"],
        *ARTICLES["parking-ticket"]["questions"],
    ]
    assert top(index, embedder, "pay my parking ticket")[0] == "parking-ticket"


def test_languages_are_separate_and_an_article_can_move(
    index: KnowledgeIndex, embedder: Embedder, view: Any
) -> None:
    index.upsert([view("dog-licence", language="es")], embedder, version=4)
    assert "dog-licence" not in top(index, embedder, "dog licence", language="en")
    assert top(index, embedder, "dog licence", language="es") == ["dog-licence"]
    assert top(index, embedder, "dog licence", language="fr") == []


def test_articles_outside_their_dates_are_not_found(
    index: KnowledgeIndex, embedder: Embedder, view: Any
) -> None:
    today = date.today()
    index.upsert([view("bulky-waste", valid_to=today)], embedder, version=4)
    assert top(index, embedder, "old sofa", on=today)[0] == "bulky-waste"
    assert "bulky-waste" not in top(index, embedder, "old sofa", on=today + timedelta(days=1))


def test_articles_beyond_the_nearest_entries_still_get_their_dense_score(
    index: KnowledgeIndex, embedder: Embedder
) -> None:
    text = "parking ticket sofa licence"
    vector = embedder.encode_one(text)
    full = {h.slug: h for h in index.search(text, vector)}
    index.dense_candidates = 1  # only the nearest entry is read; the rest are scored on demand
    narrow = {h.slug: h for h in index.search(text, vector)}
    assert narrow.keys() == full.keys() == set(ARTICLES)
    for slug, hit in full.items():
        assert narrow[slug].dense == pytest.approx(hit.dense, abs=1e-5)
        assert narrow[slug].matched == hit.matched


def test_save_and_load_give_the_same_answers(
    index: KnowledgeIndex, embedder: Embedder, view: Any, tmp_path: Path, encoded: list[str]
) -> None:
    index.upsert([view("bulky-waste", valid_from=date(2000, 1, 1))], embedder, version=7)
    index.save(tmp_path)
    loaded = KnowledgeIndex.load(tmp_path)

    assert (loaded.version, loaded.model, len(loaded)) == (7, embedder.name, 3)
    assert list(tmp_path.iterdir()) == [tmp_path / "knowledge_index.npz"]
    for text in ["old sofa", "pay a fine", "puppy licence", "rabies"]:
        vector = embedder.encode_one(text)
        assert loaded.search(text, vector, k=3) == index.search(text, vector, k=3)
    loaded.upsert([view("dog-licence", questions=["Dog tags?"])], embedder, version=8)
    assert encoded == ["Dog tags?"]  # the loaded index knows what it already holds


@pytest.mark.parametrize(
    "text",
    [
        "'; DROP TABLE kb_articles; --",
        "<script>alert('sofa')</script>",
        "\x00\x1b[31m sofa ☃ 𝔰𝔬𝔣𝔞 \u202e",
        "sofa " * 2000,
    ],
)
def test_hostile_or_huge_text_is_just_text(
    index: KnowledgeIndex, embedder: Embedder, text: str
) -> None:
    hits = index.search(text, embedder.encode_one(text))
    assert len(hits) <= 5
    assert all(0.0 <= hit.score < 1.0 for hit in hits)


@pytest.mark.parametrize("text", ["", "   \n\t"])
def test_empty_text_finds_nothing(index: KnowledgeIndex, embedder: Embedder, text: str) -> None:
    assert index.search(text, embedder.encode_one(text)) == []


def test_a_query_of_only_stop_words_still_uses_the_dense_side(
    index: KnowledgeIndex, embedder: Embedder
) -> None:
    hits = index.search("is it", embedder.encode_one("is it"), k=3)
    assert len(hits) == 3 and all(hit.lexical == 0 for hit in hits)
