"""Unanswered questions grouped by meaning, so staff see what residents keep asking.

Agglomerative clustering (average linkage) over the questions' sentence embeddings, cut at a
cosine distance: questions closer than that on average land in one group. Groups are listed
newest first, each with its count.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from bot.runtime import Runtime
from channels.deps import MAX_ROW_ID
from knowledge.schema import UnansweredView

# Average cosine distance up to which questions join one group. Measured by
# evaluation/benchmarks/unanswered_clustering.py (25 questions, 8 meanings): same-meaning
# pairs at 0.09-0.64
# (median 0.25), different meanings at 0.56-1.04 (median 0.88); thresholds 0.45-0.6 give an
# adjusted Rand index of 0.96, 0.7 starts merging meanings. 0.5 errs towards splitting, which
# costs staff a second click, over merging, which would hide a question.
DISTANCE_THRESHOLD = 0.5
MAX_QUESTIONS = 500  # the newest; older ones wait until these are dealt with


@dataclass(frozen=True)
class Group:
    questions: list[UnansweredView]  # newest first

    @property
    def count(self) -> int:
        return len(self.questions)

    @property
    def newest(self) -> datetime:
        return self.questions[0].created_at

    @property
    def ids(self) -> list[int]:
        return [q.id for q in self.questions]

    @property
    def language(self) -> str:
        return self.questions[0].language

    @property
    def variants(self) -> list[str]:
        """Distinct wordings (case and spacing ignored), newest first: question variants."""
        seen: dict[str, str] = {}
        for q in self.questions:
            seen.setdefault(" ".join(q.text.split()).casefold(), " ".join(q.text.split()))
        return list(seen.values())

    @property
    def key(self) -> str:
        return ",".join(str(i) for i in sorted(self.ids))


def cluster(vectors: np.ndarray, threshold: float = DISTANCE_THRESHOLD) -> list[int]:
    """A group label per row (rows are L2-normalised embeddings)."""
    if len(vectors) < 2:
        return [0] * len(vectors)
    model = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=threshold
    )
    return [int(label) for label in model.fit_predict(vectors)]


class _Vectors:
    """Embeddings of question texts already seen: the dashboard and the list page embed only
    what is new since the last look."""

    def __init__(self, size: int = 4 * MAX_QUESTIONS) -> None:
        self.size = size
        self._by_text: dict[tuple[str, str], np.ndarray] = {}
        self._lock = threading.Lock()

    def __call__(self, runtime: Runtime, questions: list[UnansweredView]) -> np.ndarray:
        model = runtime.embedder.name
        keys = [(model, q.text) for q in questions]
        with self._lock:
            missing = list(dict.fromkeys(k for k in keys if k not in self._by_text))
            if missing:
                encoded = runtime.embedder.encode([text for _, text in missing])
                self._by_text.update(zip(missing, encoded, strict=True))
            vectors = np.stack([self._by_text[k] for k in keys])
            for stale in list(self._by_text)[: max(0, len(self._by_text) - self.size)]:
                del self._by_text[stale]  # the oldest first (dicts keep insertion order)
            return vectors


_vectors = _Vectors()


def groups(runtime: Runtime, limit: int = MAX_QUESTIONS) -> list[Group]:
    """Open unanswered questions in groups of one meaning (per language), newest group first."""
    questions = runtime.knowledge.unanswered(limit=limit)
    out: list[Group] = []
    for language in sorted({q.language for q in questions}):
        batch = [q for q in questions if q.language == language]
        labels = cluster(_vectors(runtime, batch))
        by_label: dict[int, list[UnansweredView]] = {}
        for label, question in zip(labels, batch, strict=True):
            by_label.setdefault(label, []).append(question)
        out += [Group(members) for members in by_label.values()]
    out.sort(key=lambda g: (g.newest, g.count), reverse=True)
    return out


def find_group(runtime: Runtime, ids: list[int]) -> list[UnansweredView]:
    """The open questions among these ids (a group as the page showed it)."""
    wanted = set(ids)
    return [q for q in runtime.knowledge.unanswered(limit=MAX_QUESTIONS) if q.id in wanted]


def parse_ids(text: str | None) -> list[int]:
    ids = []
    for part in (text or "").split(","):
        part = part.strip()
        if part.isdigit() and int(part) <= MAX_ROW_ID and len(ids) < MAX_QUESTIONS:
            ids.append(int(part))
    return ids
