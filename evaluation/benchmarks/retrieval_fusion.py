"""Measure the knowledge index's dense/lexical fusion on held-out resident paraphrases.

Usage: ``python -m evaluation.benchmarks.retrieval_fusion [--data evaluation/data]``.
Indexes the demo KB
(knowledge/demo/articles_*.yml) and asks every question of data/kb_paraphrases_*.yml (written
apart from the articles' own question variants). Prints hit@1, hit@3 and MRR of dense alone,
lexical alone and the hybrid at the shipped defaults, then the grid over the dense weight w
and the BM25 saturation c behind knowledge.index.DENSE_WEIGHT and LEXICAL_SATURATION.

When CLINC150 is in the data sets' folder (``HOTLINE_DATASETS_DIR``) it also prints where the fused
score of the top hit falls for in-scope and out-of-scope questions (thresholds taken on
oos_val, reported on oos_test), for the assistant's answer / suggest cut-offs.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import yaml

from evaluation import DATA
from evaluation.benchmarks.datasets import dataset
from knowledge.demo import load_demo_articles
from knowledge.embedder import load_embedder
from knowledge.index import DENSE_WEIGHT, LEXICAL_SATURATION, KnowledgeIndex, fuse
from knowledge.schema import ArticleView

CLINC = dataset("clinc150", "data_full.json")
WEIGHTS = [round(0.05 * i, 2) for i in range(21)]
SATURATIONS = [1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0]


@dataclass(frozen=True)
class Query:
    gold: str
    text: str
    scores: dict[str, tuple[float, float]]  # slug -> (dense cosine, raw BM25)


@dataclass(frozen=True)
class Quality:
    hit1: float
    hit3: float
    mrr: float

    def __str__(self) -> str:
        return f"hit@1 {self.hit1:.3f}  hit@3 {self.hit3:.3f}  MRR {self.mrr:.3f}"


Scorer = Callable[[float, float], float]


def measure(queries: list[Query], scorer: Scorer) -> Quality:
    """Rank every article by scorer(dense, bm25); an article with score 0 is not retrieved."""
    hit1 = hit3 = reciprocal = 0.0
    for query in queries:
        ranked = sorted(
            ((scorer(d, b), slug) for slug, (d, b) in query.scores.items()),
            key=lambda pair: (-pair[0], pair[1]),
        )
        slugs = [slug for score, slug in ranked if score > 0]
        if query.gold in slugs:
            rank = slugs.index(query.gold) + 1
            hit1 += rank == 1
            hit3 += rank <= 3
            reciprocal += 1 / rank
    n = len(queries)
    return Quality(hit1 / n, hit3 / n, reciprocal / n)


def top_scores(queries: list[Query], scorer: Scorer) -> tuple[np.ndarray, np.ndarray]:
    """Each query's best fused score, and whether that best article is the right one."""
    best = [max((scorer(*v), slug) for slug, v in q.scores.items()) for q in queries]
    return (
        np.array([score for score, _ in best]),
        np.array([slug == q.gold for (_, slug), q in zip(best, queries, strict=True)]),
    )


def report_scale(queries: list[Query], index: KnowledgeIndex) -> None:
    clinc = json.loads(CLINC.read_text(encoding="utf-8"))
    val, _ = top_scores(ask(index, [("", t) for t, _ in clinc["oos_val"]]), fuse)
    test, _ = top_scores(ask(index, [("", t) for t, _ in clinc["oos_test"]]), fuse)
    scores, right = top_scores(queries, fuse)
    print("\nTop fused score at the defaults (p10 / median / p90):")
    print(f"  paraphrases, top hit right  {_spread(scores[right])}")
    print(f"  paraphrases, top hit wrong  {_spread(scores[~right])}")
    print(f"  clinc150 oos_test           {_spread(test)}")
    for rate in (0.05, 0.01):
        cut = float(np.quantile(val, 1 - rate))
        print(
            f"  cut {cut:.3f} (oos_val above it: {rate:.0%}): oos_test above "
            f"{np.mean(test >= cut):.3f}; paraphrases above it and right "
            f"{np.mean((scores >= cut) & right):.3f}, wrong {np.mean((scores >= cut) & ~right):.3f}"
        )


def _spread(values: np.ndarray) -> str:
    return " / ".join(f"{q:.3f}" for q in np.quantile(values, [0.1, 0.5, 0.9]))


def ask(index: KnowledgeIndex, pairs: list[tuple[str, str]]) -> list[Query]:
    vectors = load_embedder().encode([text for _, text in pairs])
    queries = []
    for (gold, text), vector in zip(pairs, vectors, strict=True):
        hits = index.search(text, vector, k=len(index))
        queries.append(Query(gold, text, {h.slug: (h.dense, h.lexical) for h in hits}))
    return queries


def load_paraphrases(data: Path, slugs: set[str]) -> list[tuple[str, str]]:
    pairs = []
    for path in sorted(data.glob("kb_paraphrases_*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]:
            if item["slug"] not in slugs:
                raise SystemExit(f"{path.name}: no demo article '{item['slug']}'")
            pairs.append((item["slug"], item["text"]))
    return pairs


def build_index() -> tuple[KnowledgeIndex, set[str]]:
    now = datetime.now(UTC)
    articles = [
        ArticleView(id=number, revision=1, updated_at=now, author="demo", **data.model_dump())
        for number, data in enumerate(load_demo_articles(), start=1)
    ]
    index = KnowledgeIndex()
    index.dense_candidates = index.lexical_candidates = 10**6  # score every article
    index.build(articles, load_embedder(), version=1)
    return index, {a.slug for a in articles}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    index, slugs = build_index()
    queries = ask(index, load_paraphrases(args.data, slugs))
    print(f"{len(queries)} paraphrases over {len(index)} articles")
    print(f"dense    {measure(queries, lambda d, b: max(d, 1e-9))}")
    print(f"lexical  {measure(queries, lambda d, b: b)}")
    print(f"hybrid   {measure(queries, fuse)}   (w={DENSE_WEIGHT}, c={LEXICAL_SATURATION})")
    print("\nMRR over w (rows) and c (columns); hit@1 / hit@3 at the best c of each w")
    print("   w  " + "".join(f"{c:>7}" for c in SATURATIONS) + "   best c: hit@1  hit@3")
    for w in WEIGHTS:
        row = [measure(queries, lambda d, b, w=w, c=c: fuse(d, b, w, c)) for c in SATURATIONS]
        best = max(range(len(row)), key=lambda i: row[i].mrr)
        print(
            f"{w:5.2f} "
            + "".join(f"{q.mrr:7.3f}" for q in row)
            + f"   {SATURATIONS[best]:>6}: {row[best].hit1:.3f}  {row[best].hit3:.3f}"
        )
    if CLINC.exists():
        report_scale(queries, index)


if __name__ == "__main__":
    main()
