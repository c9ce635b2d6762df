"""`hotline evaluate retrieval`: how often knowledge search puts the right article first.

Labelled questions (evaluation/data/kb_paraphrases_*.yml: ``questions: [{slug, text}]``,
written apart from the articles' own question variants) are asked of an index built over
the articles (default: the demo KB, knowledge/demo/articles_*.yml) exactly as the assistant
searches. Reports hit@1, hit@3 and MRR overall and per article, a plot of the rank of the
right article and one of the top score for right and wrong answers (where a confidence
cut-off would fall).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from evaluation import DATA
from evaluation.qa import report_pages
from knowledge.demo import DEMO_DIR, load_demo_articles
from knowledge.embedder import Embedder, load_embedder
from knowledge.index import KnowledgeIndex
from knowledge.schema import ArticleView

DEPTH = 10  # ranks past this count as not found


class LabelError(ValueError):
    """A labelled question set that cannot be used."""


@dataclass(frozen=True)
class Asked:
    slug: str
    text: str
    rank: int | None  # 1-based rank of the right article, None if not in the top DEPTH
    top: str | None
    top_score: float


def load_questions(files: list[Path], slugs: set[str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for path in files:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        items = raw.get("questions") if isinstance(raw, dict) else None
        if not isinstance(items, list):
            raise LabelError(f"{path}: expected 'questions: [{{slug, text}}]'")
        for number, item in enumerate(items, 1):
            if not isinstance(item, dict) or not item.get("slug") or not item.get("text"):
                raise LabelError(f"{path}: question {number} needs a slug and a text")
            if item["slug"] not in slugs:
                raise LabelError(f"{path}: question {number}: no article {item['slug']!r}")
            pairs.append((str(item["slug"]), str(item["text"])))
    if not pairs:
        raise LabelError("no labelled questions")
    return pairs


def published_articles(articles_dir: Path) -> list[ArticleView]:
    now = datetime.now(UTC)
    return [
        ArticleView(id=number, revision=1, updated_at=now, author="eval", **data.model_dump())
        for number, data in enumerate(load_demo_articles(articles_dir), start=1)
        if data.status == "published"
    ]


def build_index(articles: list[ArticleView], embedder: Embedder) -> KnowledgeIndex:
    index = KnowledgeIndex()
    index.build(articles, embedder, version=1)
    return index


def ask(index: KnowledgeIndex, embedder: Embedder, pairs: list[tuple[str, str]]) -> list[Asked]:
    vectors = embedder.encode([text for _, text in pairs])
    asked = []
    for (slug, text), vector in zip(pairs, vectors, strict=True):
        hits = index.search(text, vector, k=DEPTH)
        slugs = [h.slug for h in hits]
        rank = slugs.index(slug) + 1 if slug in slugs else None
        asked.append(
            Asked(slug, text, rank, slugs[0] if slugs else None, hits[0].score if hits else 0.0)
        )
    return asked


def quality(asked: list[Asked]) -> dict[str, float]:
    n = len(asked)
    return {
        "hit@1": sum(a.rank == 1 for a in asked) / n,
        "hit@3": sum(a.rank is not None and a.rank <= 3 for a in asked) / n,
        "mrr": sum(1 / a.rank for a in asked if a.rank) / n,
        "questions": n,
    }


def _plots(asked: list[Asked], out: Path) -> list[dict[str, str]]:
    import matplotlib.pyplot as plt

    ranks = [a.rank if a.rank else DEPTH + 1 for a in asked]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(ranks, bins=range(1, DEPTH + 3), align="left", rwidth=0.8, color="#3366aa")
    ax.set_xticks(range(1, DEPTH + 2), [*map(str, range(1, DEPTH + 1)), "miss"])
    ax.set_xlabel("rank of the right article")
    ax.set_ylabel("questions")
    fig.tight_layout()
    fig.savefig(out / "ranks.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    right = [a.top_score for a in asked if a.rank == 1]
    wrong = [a.top_score for a in asked if a.rank != 1]
    ax.hist(
        [right, wrong],
        bins=20,
        label=["top hit right", "top hit wrong"],
        color=["#2a8a4a", "#c0392b"],
    )
    ax.set_xlabel("fused score of the top hit")
    ax.set_ylabel("questions")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "top_scores.png", dpi=110)
    plt.close(fig)
    return [
        {
            "title": "Rank of the right article",
            "file": "ranks.png",
            "alt": "histogram of the rank at which the right article was found",
        },
        {
            "title": "Top score, right vs wrong",
            "file": "top_scores.png",
            "alt": "histograms of the top hit's score when it was right and when it was wrong",
        },
    ]


def run(
    *,
    out: Path,
    questions: list[Path] | None = None,
    articles_dir: Path = DEMO_DIR,
    embedder: Embedder | None = None,
) -> dict[str, Any]:
    articles = published_articles(articles_dir)
    slugs = {a.slug for a in articles}
    files = questions or sorted(DATA.glob("kb_paraphrases_*.yml"))
    pairs = load_questions(files, slugs)
    embedder = embedder or load_embedder()
    asked = ask(build_index(articles, embedder), embedder, pairs)
    overall = quality(asked)
    per_article = {
        slug: quality([a for a in asked if a.slug == slug])
        for slug in sorted({a.slug for a in asked})
    }
    misses = [
        {"slug": a.slug, "text": a.text, "rank": a.rank, "top": a.top} for a in asked if a.rank != 1
    ]
    summary = {
        "overall": overall,
        "per_article": per_article,
        "misses": misses,
        "files": [str(f) for f in files],
    }
    out.mkdir(parents=True, exist_ok=True)
    plots = _plots(asked, out)
    report_pages.write(
        out,
        title="Knowledge retrieval quality",
        intro=f"{overall['questions']} labelled questions from {', '.join(f.name for f in files)}"
        f" asked of {len(slugs)} articles.",
        summary=summary,
        headline=overall,
        tables=[
            {
                "title": "Questions whose right article was not first",
                "columns": ["question", "right article", "its rank", "first hit"],
                "rows": [[m["text"], m["slug"], m["rank"] or "miss", m["top"]] for m in misses],
            },
            {
                "title": "Per article",
                "columns": ["article", "questions", "hit@1", "hit@3", "MRR"],
                "rows": [
                    [s, q["questions"], q["hit@1"], q["hit@3"], q["mrr"]]
                    for s, q in per_article.items()
                ],
            },
        ],
        plots=plots,
    )
    return summary


def describe(summary: dict[str, Any]) -> str:
    o = summary["overall"]
    return (
        f"retrieval on {o['questions']} questions: hit@1 {o['hit@1']:.3f}  "
        f"hit@3 {o['hit@3']:.3f}  MRR {o['mrr']:.3f}"
    )
