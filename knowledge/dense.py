"""FAISS over question variants and titles, keyed per entry so one article's change touches
only its own entries and unchanged texts are never encoded again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import faiss
import numpy as np

from knowledge.embedder import Embedder

# One query over a few hundred vectors is microseconds of work; FAISS's OpenMP threads only
# spin, and on a busy machine they compete with everything else. 600 turns in process on 2
# cores: at load 5, 10.7-11.3 ms a turn with FAISS's default threads, 6.6-7.4 ms with one;
# on a quiet machine no difference (7.1-8.2 against 7.3-7.7 ms).
faiss.omp_set_num_threads(1)


class DenseIndex:
    """Inner product over normalised vectors (= cosine), in an IndexIDMap2 so entries can go."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._faiss = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._entries: dict[int, tuple[int, str]] = {}  # entry id -> (article id, text)
        self._by_article: dict[int, dict[str, int]] = {}  # article id -> text -> entry id
        self._next_id = 0

    def __len__(self) -> int:
        return self._faiss.ntotal

    def upsert(self, texts: Mapping[int, Sequence[str]], embedder: Embedder) -> int:
        """Make each article's entries exactly `texts`; returns how many texts were encoded."""
        fresh: list[tuple[int, str]] = []
        stale: list[int] = []
        for article_id, wanted in texts.items():
            current = self._by_article.get(article_id, {})
            keep = dict.fromkeys(wanted)
            stale.extend(entry for text, entry in current.items() if text not in keep)
            fresh.extend((article_id, text) for text in keep if text not in current)
        self._drop(stale)
        if fresh:
            vectors = embedder.encode([text for _, text in fresh])
            ids = np.arange(self._next_id, self._next_id + len(fresh), dtype=np.int64)
            self._faiss.add_with_ids(vectors, ids)
            self._next_id += len(fresh)
            for entry, (article_id, text) in zip(ids.tolist(), fresh, strict=True):
                self._entries[entry] = (article_id, text)
                self._by_article.setdefault(article_id, {})[text] = entry
        return len(fresh)

    def remove(self, article_ids: Iterable[int]) -> None:
        self._drop([entry for a in article_ids for entry in self._by_article.get(a, {}).values()])

    def _drop(self, entries: list[int]) -> None:
        if not entries:
            return
        self._faiss.remove_ids(np.asarray(entries, dtype=np.int64))
        for entry in entries:
            article_id, text = self._entries.pop(entry)
            texts = self._by_article[article_id]
            del texts[text]
            if not texts:
                del self._by_article[article_id]

    def best(self, vector: np.ndarray, limit: int) -> dict[int, tuple[float, str]]:
        """Per article among the `limit` nearest entries: its best cosine and that entry's text."""
        n = min(limit, len(self))
        if n == 0:
            return {}
        scores, ids = self._faiss.search(vector.reshape(1, -1).astype(np.float32), n)
        found: dict[int, tuple[float, str]] = {}
        for score, entry in zip(scores[0].tolist(), ids[0].tolist(), strict=True):
            if entry < 0:
                continue
            article_id, text = self._entries[entry]
            found.setdefault(article_id, (score, text))  # results come best first
        return found

    def score(self, vector: np.ndarray, article_id: int) -> tuple[float, str] | None:
        """An article's best cosine, for a candidate that the nearest entries did not reach."""
        entries = self._by_article.get(article_id)
        if not entries:
            return None
        texts = list(entries)
        stored = np.stack([self._faiss.reconstruct(entries[text]) for text in texts])
        cosines = stored @ vector.astype(np.float32)
        best = int(np.argmax(cosines))
        return float(cosines[best]), texts[best]

    def state(self) -> tuple[dict[str, Any], np.ndarray]:
        """What save needs: the entry table as JSON-able data, and the FAISS bytes."""
        entries = [[entry, a, text] for entry, (a, text) in sorted(self._entries.items())]
        meta = {"dim": self.dim, "next_id": self._next_id, "entries": entries}
        return meta, faiss.serialize_index(self._faiss)

    @classmethod
    def from_state(cls, meta: dict[str, Any], blob: np.ndarray) -> DenseIndex:
        index = cls(int(meta["dim"]))
        index._faiss = faiss.deserialize_index(blob)
        index._next_id = int(meta["next_id"])
        for entry, article_id, text in meta["entries"]:
            index._entries[entry] = (article_id, text)
            index._by_article.setdefault(article_id, {})[text] = entry
        if len(index._entries) != index._faiss.ntotal:
            raise ValueError("saved dense index and its entry table disagree")
        return index
