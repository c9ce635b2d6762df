"""The search index: dense and lexical retrieval per language, fused onto one absolute scale.

The assistant decides with fixed thresholds (answer / offer choices / admit it does not know),
so the fused score must mean the same thing for every query: a weighted sum of the best cosine
and a saturated BM25, not a rank fusion.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.dense import DenseIndex
from knowledge.embedder import Embedder
from knowledge.lexical import LexicalIndex
from knowledge.schema import ArticleView

# Fusion, measured by evaluation/benchmarks/retrieval_fusion.py on the 300 held-out
# paraphrases of the demo
# KB (150 articles): dense alone hit@1 0.840 / hit@3 0.970 / MRR 0.903, lexical alone
# 0.790 / 0.917 / 0.856, hybrid at these values 0.913 / 0.987 / 0.950. MRR is flat (0.945-0.951)
# along w 0.4-0.65 with c rising as w falls; we take the middle, where the scale also keeps
# clinc150 out-of-scope questions low (top-score median 0.28 against 0.54 for right answers).
DENSE_WEIGHT = 0.6
LEXICAL_SATURATION = 10.0  # raw BM25 at which the lexical part is worth half its weight

FILE_NAME = "knowledge_index.npz"
FORMAT = 1


@dataclass(frozen=True)
class Hit:
    """One article found for a query; `matched` is its entry (question or title) nearest to it."""

    article_id: int
    slug: str
    title: str
    score: float
    dense: float
    lexical: float
    matched: str


@dataclass(frozen=True)
class _Entry:
    slug: str
    title: str
    language: str
    valid_from: date | None
    valid_to: date | None

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


def fuse(
    dense: float,
    bm25: float,
    weight: float = DENSE_WEIGHT,
    saturation: float = LEXICAL_SATURATION,
) -> float:
    """Score on an absolute [0, 1) scale: comparable across queries, so thresholds hold."""
    return weight * max(dense, 0.0) + (1.0 - weight) * bm25 / (bm25 + saturation)


def _dense_texts(article: ArticleView) -> list[str]:
    return [article.title, *article.questions]


def _lexical_text(article: ArticleView) -> str:
    return "\n".join([article.title, *article.questions, article.short_answer, article.answer])


class KnowledgeIndex:
    """Dense FAISS (inner product over normalised vectors, IndexIDMap2 so entries can be
    removed) over every question variant and the title of each published article, fused with
    a lexical BM25 index (bm25s) over title+questions+answers; one per language."""

    dense_candidates = 1024  # nearest entries read per query; others are scored on demand
    lexical_candidates = 50

    def __init__(self) -> None:
        self.version = 0
        self.model = ""
        self._articles: dict[int, _Entry] = {}
        self._dense: dict[str, DenseIndex] = {}
        self._lexical: dict[str, LexicalIndex] = {}

    def __len__(self) -> int:
        return len(self._articles)

    def build(self, articles: Sequence[ArticleView], embedder: Embedder, version: int) -> None:
        """Start over from these articles (every text is encoded)."""
        self.model = ""
        self._articles.clear()
        self._dense.clear()
        self._lexical.clear()
        self.upsert(articles, embedder, version)

    def upsert(self, articles: Sequence[ArticleView], embedder: Embedder, version: int) -> int:
        """Add or replace articles (any not published are removed); returns texts encoded."""
        if self.model and self.model != embedder.name:
            raise ValueError(f"index was built with {self.model}, not {embedder.name}: rebuild")
        self.model = embedder.name
        live = [a for a in articles if a.status == "published"]
        moved = [
            a.id
            for a in live
            if a.id in self._articles and self._articles[a.id].language != a.language
        ]
        # the version moves only once everything is in, so a failure here is retried whole
        self.remove([a.id for a in articles if a.status != "published"] + moved, self.version)
        encoded = 0
        for language in sorted({a.language for a in live}):
            batch = [a for a in live if a.language == language]
            dense = self._dense.setdefault(language, DenseIndex(embedder.dim))
            encoded += dense.upsert({a.id: _dense_texts(a) for a in batch}, embedder)
            lexical = self._lexical.setdefault(language, LexicalIndex(language))
            lexical.update({a.id: _lexical_text(a) for a in batch})
            for a in batch:
                self._articles[a.id] = _Entry(a.slug, a.title, language, a.valid_from, a.valid_to)
        self.version = version
        return encoded

    def remove(self, article_ids: Iterable[int], version: int) -> None:
        by_language: dict[str, list[int]] = {}
        for article_id in article_ids:
            entry = self._articles.pop(article_id, None)
            if entry is not None:
                by_language.setdefault(entry.language, []).append(article_id)
        for language, ids in by_language.items():
            self._dense[language].remove(ids)
            self._lexical[language].update({}, removed=ids)
        self.version = version

    def search(
        self,
        text: str,
        vector: np.ndarray,
        language: str = "en",
        k: int = 5,
        on: date | None = None,
    ) -> list[Hit]:
        """Best articles first (each scored by its best entry), valid on `on` (default today).

        Does not encode: the caller embeds the turn once and reuses the vector.
        """
        dense_index = self._dense.get(language)
        if not text.strip() or dense_index is None or k <= 0:
            return []
        day = on or date.today()
        dense = dense_index.best(vector, self.dense_candidates)
        lexical = self._lexical[language].scores(text, self.lexical_candidates)
        hits = []
        for article_id in dense.keys() | lexical.keys():
            entry = self._articles[article_id]
            if not entry.valid_on(day):
                continue
            found = dense.get(article_id) or dense_index.score(vector, article_id)
            cosine, matched = found if found else (0.0, entry.title)
            bm25 = lexical.get(article_id, 0.0)
            hits.append(
                Hit(article_id, entry.slug, entry.title, fuse(cosine, bm25), cosine, bm25, matched)
            )
        hits.sort(key=lambda hit: (-hit.score, hit.article_id))
        return hits[:k]

    def save(self, directory: Path) -> None:
        """One file, replaced atomically, so app instances sharing the folder never read half."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        dense_meta: dict[str, Any] = {}
        for language, dense in self._dense.items():
            dense_meta[language], arrays[f"dense_{language}"] = dense.state()
        meta = {
            "format": FORMAT,
            "version": self.version,
            "model": self.model,
            "articles": {
                str(article_id): [e.slug, e.title, e.language, _iso(e.valid_from), _iso(e.valid_to)]
                for article_id, e in self._articles.items()
            },
            "dense": dense_meta,
            "lexical": {
                language: {str(i): doc for i, doc in lexical.documents.items()}
                for language, lexical in self._lexical.items()
            },
        }
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".index-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(buffer.getvalue())
            os.replace(temporary, directory / FILE_NAME)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, directory: Path) -> KnowledgeIndex:
        """Raises FileNotFoundError when nothing was saved, ValueError when it is unusable."""
        with np.load(directory / FILE_NAME, allow_pickle=False) as saved:
            meta = json.loads(saved["meta"].tobytes().decode("utf-8"))
            if meta.get("format") != FORMAT:
                raise ValueError(f"saved index has format {meta.get('format')}, not {FORMAT}")
            index = cls()
            index.version = int(meta["version"])
            index.model = meta["model"]
            for article_id, (slug, title, language, start, end) in meta["articles"].items():
                index._articles[int(article_id)] = _Entry(
                    slug, title, language, _date(start), _date(end)
                )
            for language, dense_meta in meta["dense"].items():
                index._dense[language] = DenseIndex.from_state(
                    dense_meta, saved[f"dense_{language}"]
                )
        for language, documents in meta["lexical"].items():
            lexical = index._lexical[language] = LexicalIndex(language)
            lexical.update({int(i): doc for i, doc in documents.items()})
        return index


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None
