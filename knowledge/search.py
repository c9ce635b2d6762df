"""Search that follows the database: each app instance reloads when the KB version moves."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np

from knowledge.embedder import Embedder
from knowledge.index import Hit, KnowledgeIndex
from knowledge.service import KnowledgeService

log = logging.getLogger(__name__)


class KnowledgeSearch:
    """Keeps an index fresh against the database so several app processes pick up a new KB
    version without restart."""

    def __init__(
        self,
        service: KnowledgeService,
        embedder: Embedder,
        index_dir: Path,
        refresh_interval: float = 2.0,
    ) -> None:
        self.service = service
        self.embedder = embedder
        self.index_dir = Path(index_dir)
        self.refresh_interval = refresh_interval
        self.index: KnowledgeIndex | None = None
        self._checked_at = float("-inf")
        self._lock = threading.RLock()  # FAISS and bm25s are not safe to change while read

    def ensure_fresh(self, force: bool = False) -> None:
        """Bring the index to the DB version: the saved index if it matches, else an incremental
        update (of what is in memory or saved), else a full build. Asks the DB at most once per
        refresh_interval, unless forced (after a change made in this process)."""
        with self._lock:
            now = time.monotonic()
            recent = now - self._checked_at < self.refresh_interval
            if self.index is not None and recent and not force:
                return
            self._checked_at = now
            version = self.service.version()
            if self.index is not None and self.index.version == version:
                return
            index = self.index if self.index is not None else self._saved()
            if index is not None and index.version == version:
                self.index = index
                return
            if index is not None and index.version < version:
                upsert, remove = self.service.changed_since(index.version)
                encoded = index.upsert(upsert, self.embedder, version)
                index.remove(remove, version)
                log.info(
                    "knowledge index %s: %d changed, %d texts encoded",
                    version,
                    len(upsert) + len(remove),
                    encoded,
                )
            else:
                index = KnowledgeIndex()
                index.build(self.service.list(status="published"), self.embedder, version)
                log.info("knowledge index %s: built over %d articles", version, len(index))
            self.index = index
            self._save(index)

    def _saved(self) -> KnowledgeIndex | None:
        try:
            index = KnowledgeIndex.load(self.index_dir)
        except FileNotFoundError:
            return None
        except Exception as error:  # it is only a cache: anything unreadable means rebuild
            log.warning("ignoring the saved knowledge index: %s", error)
            return None
        return index if index.model == self.embedder.name else None

    def _save(self, index: KnowledgeIndex) -> None:
        try:
            index.save(self.index_dir)
        except OSError as error:  # a read-only data dir costs a rebuild at start, nothing more
            log.warning("could not save the knowledge index: %s", error)

    def search(
        self, text: str, vector: np.ndarray | None = None, language: str = "en", k: int = 5
    ) -> list[Hit]:
        """Hits for the text; pass the turn's vector when it is already embedded."""
        if not text.strip():
            return []
        self.ensure_fresh()
        if vector is None:
            vector = self.embedder.encode_one(text)
        with self._lock:
            assert self.index is not None
            return self.index.search(text, vector, language=language, k=k)
