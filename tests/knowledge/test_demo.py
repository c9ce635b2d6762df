"""The shipped demo KB: valid, seeded once, and found by residents' own wording."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from knowledge.demo import DEMO_DIR, load_demo_articles, seed_demo
from knowledge.embedder import Embedder
from knowledge.search import KnowledgeSearch
from knowledge.service import KnowledgeService

PARAPHRASES = Path(__file__).resolve().parents[2] / "evaluation" / "data"

pytestmark = pytest.mark.skipif(
    not list(DEMO_DIR.glob("articles_*.yml")), reason="no demo articles yet"
)


def test_demo_is_seeded_once_and_answers_held_out_paraphrases(
    service: KnowledgeService, embedder: Embedder, tmp_path: Path
) -> None:
    articles = load_demo_articles()
    report = seed_demo(service)

    assert report is not None and not report.errors
    assert report.created == len(articles) == len({a.slug for a in articles})
    assert seed_demo(service) is None
    assert service.version() == 1

    questions = [
        item
        for path in sorted(PARAPHRASES.glob("kb_paraphrases_*.yml"))
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]
    ]
    if not questions:
        pytest.skip("no held-out paraphrases yet")
    search = KnowledgeSearch(service, embedder, tmp_path / "index")
    vectors = embedder.encode([q["text"] for q in questions])
    ranks = []
    for question, vector in zip(questions, vectors, strict=True):
        found = [hit.slug for hit in search.search(question["text"], vector, k=3)]
        ranks.append(found.index(question["slug"]) + 1 if question["slug"] in found else 0)
    hit1 = sum(rank == 1 for rank in ranks) / len(ranks)
    hit3 = sum(rank > 0 for rank in ranks) / len(ranks)
    assert hit1 >= 0.88 and hit3 >= 0.96, (hit1, hit3)  # measured 0.913 / 0.987


def test_a_bad_demo_file_names_the_file_and_article(tmp_path: Path) -> None:
    (tmp_path / "articles_x.yml").write_text("articles:\n  - slug: Bad Slug\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"articles_x.yml, article 1: slug: slug 'Bad Slug'"):
        load_demo_articles(tmp_path)
