"""Retrieval with typos: hit@1 on clean questions, on a typo'd copy, and on that copy after
the assistant's spelling correction.

`python -m evaluation.benchmarks.typo_retrieval` makes the typo'd copy with a fixed seed, as
people type
on phones: a dropped letter ("recyclin"), a doubled one ("binns"), two letters swapped ("teh").
Two question sets: the project's paraphrases (evaluation/data/kb_paraphrases_*.yml) against
the demo knowledge base, with the vocabulary the running assistant builds (NLU examples,
articles, gazetteer, catalogue); and, where the data sets' folder has it, the English
government COVID-19 FAQ (its paraphrase pairs against its own questions), whose vocabulary is
that FAQ's own text, as a city importing another knowledge base would have it.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.catalogue import Catalogue
from bot.city import City
from bot.dialogue.choosing import Lexicon
from bot.nlu.spelling import SpellCorrector, words
from bot.nlu.training_data import load_training_data
from bot.runtime import NLU_DATA, domain_vocabulary
from evaluation.benchmarks.datasets import dataset
from evaluation.qa.retrieval_eval import (
    DATA,
    ask,
    build_index,
    load_questions,
    published_articles,
    quality,
)
from knowledge.demo import DEMO_DIR
from knowledge.embedder import Embedder, load_embedder
from knowledge.schema import ArticleView

SEED = 12
WORD_TYPO_RATE = 0.3  # of words of four letters or more; every question gets at least one
COVID = dataset("gov_faq_covid")


@dataclass(frozen=True)
class QuestionSet:
    name: str
    articles: list[ArticleView]
    pairs: list[tuple[str, str]]  # (slug, question)
    vocabulary_texts: list[str] | None  # None: the demo assistant's own vocabulary


def typo(word: str, rng: random.Random) -> str:
    """One slip of the thumb: drop, double, or swap two neighbouring letters."""
    i = rng.randrange(1, len(word) - 1)  # the first letter is rarely wrong
    kind = rng.choice(("drop", "double", "swap"))
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[: i + 1] + word[i] + word[i + 1 :]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def typo_text(text: str, rng: random.Random) -> str:
    tokens = text.split(" ")
    candidates = [i for i, t in enumerate(tokens) if t.isalpha() and len(t) >= 4]
    if not candidates:
        return text
    chosen = {i for i in candidates if rng.random() < WORD_TYPO_RATE} or {rng.choice(candidates)}
    return " ".join(typo(t, rng) if i in chosen else t for i, t in enumerate(tokens))


def demo_set() -> QuestionSet:
    articles = published_articles(DEMO_DIR)
    files = sorted(DATA.glob("kb_paraphrases_*.yml"))
    return QuestionSet(
        "project paraphrases (demo KB)",
        articles,
        load_questions(files, {a.slug for a in articles}),
        None,
    )


def covid_set() -> QuestionSet | None:
    faq, pairs_file = COVID / "faq_covidbert.csv", COVID / "eval_question_similarity_en.csv"
    if not faq.exists() or not pairs_file.exists():
        return None
    with faq.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["lang"] == "en" and r["question"].strip()]
    now = datetime.now(UTC)
    articles, slug_of = [], {}
    for number, row in enumerate(rows, 1):
        question = row["question"].strip()
        if question in slug_of:
            continue
        slug_of[question] = f"faq-{number}"
        answer = " ".join(row["answer"].split()) or question
        articles.append(
            ArticleView(
                id=number,
                revision=1,
                updated_at=now,
                author="eval",
                slug=f"faq-{number}",
                title=question,
                short_answer=" ".join(answer.split()[:60]),
                answer=answer,
                questions=[question],
                category=row["category"] or "faq",
                department=row["source"] or "faq",
                source_url=row["link"] or "https://example.org",
            )
        )
    with pairs_file.open(encoding="utf-8") as f:
        pairs = [
            (slug_of[r["question_1"].strip()], r["question_2"].strip())
            for r in csv.DictReader(f)
            if r["similar"] == "1" and r["question_1"].strip() in slug_of
        ]
    texts = [t for a in articles for t in (a.title, a.answer)]
    return QuestionSet("government COVID-19 FAQ (English)", articles, pairs, texts)


def demo_corrector() -> SpellCorrector:
    catalogue = Catalogue.load()
    vocabulary = domain_vocabulary(
        load_training_data(NLU_DATA),
        published_articles(DEMO_DIR),
        City.load(),
        catalogue,
        Lexicon.build(catalogue),
    )
    return SpellCorrector(vocabulary)


def hit_at_1(
    qs: QuestionSet, embedder: Embedder, index: object, fix: Callable[[str], str] | None = None
) -> float:
    pairs = [(slug, fix(text) if fix else text) for slug, text in qs.pairs]
    return quality(ask(index, embedder, pairs))["hit@1"]  # type: ignore[arg-type]


def measure(qs: QuestionSet, embedder: Embedder) -> dict[str, float | int | str]:
    rng = random.Random(SEED)
    typoed = QuestionSet(
        qs.name,
        qs.articles,
        [(slug, typo_text(text, rng)) for slug, text in qs.pairs],
        qs.vocabulary_texts,
    )
    corrector = (
        demo_corrector()
        if qs.vocabulary_texts is None
        else SpellCorrector(words(qs.vocabulary_texts))
    )
    index = build_index(qs.articles, embedder)
    result: dict[str, float | int | str] = {
        "set": qs.name,
        "questions": len(qs.pairs),
        "clean": hit_at_1(qs, embedder, index),
        "clean, corrected": hit_at_1(qs, embedder, index, corrector.correct),
        "typos": hit_at_1(typoed, embedder, index),
        "typos, corrected": hit_at_1(typoed, embedder, index, corrector.correct),
    }
    result["gap (points)"] = round(
        100 * (float(result["clean"]) - float(result["typos, corrected"])), 1
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", type=int, default=0, help="print this many typo'd questions")
    args = parser.parse_args()
    embedder = load_embedder()
    sets = [s for s in (demo_set(), covid_set()) if s is not None]
    for qs in sets:
        if args.show:
            rng = random.Random(SEED)
            for _, text in qs.pairs[: args.show]:
                print(f"  {typo_text(text, rng)}")
        print(json.dumps(measure(qs, embedder)))


if __name__ == "__main__":
    main()
