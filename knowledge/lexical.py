"""BM25 over each article's words: catches names, numbers and jargon that embeddings blur."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import bm25s
import numpy as np
import Stemmer
from bm25s import stopwords

_WORD = re.compile(r"\w+")
_STEMMERS = {
    "da": "danish",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fr": "french",
    "it": "italian",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ru": "russian",
    "sv": "swedish",
    "tr": "turkish",
}
_STOPWORDS: dict[str, Iterable[str]] = {
    "da": stopwords.STOPWORDS_DANISH,
    "de": stopwords.STOPWORDS_GERMAN,
    "en": stopwords.STOPWORDS_EN,
    "es": stopwords.STOPWORDS_SPANISH,
    "fr": stopwords.STOPWORDS_FRENCH,
    "it": stopwords.STOPWORDS_ITALIAN,
    "nl": stopwords.STOPWORDS_DUTCH,
    "no": stopwords.STOPWORDS_NORWEGIAN,
    "pt": stopwords.STOPWORDS_PORTUGUESE,
    "ru": stopwords.STOPWORDS_RUSSIAN,
    "sv": stopwords.STOPWORDS_SWEDISH,
    "tr": stopwords.STOPWORDS_TURKISH,
}


class Tokenizer:
    """Lower-case words, minus stop words, stemmed when Snowball knows the language."""

    def __init__(self, language: str) -> None:
        base = language.split("-")[0]
        self._stop = frozenset(_STOPWORDS.get(base, ()))
        algorithm = _STEMMERS.get(base)
        self._stemmer = Stemmer.Stemmer(algorithm) if algorithm else None

    def __call__(self, text: str) -> list[str]:
        words = [w for w in _WORD.findall(text.casefold()) if w not in self._stop]
        return self._stemmer.stemWords(words) if self._stemmer else words


class LexicalIndex:
    """BM25 over one language's articles; rebuilt whole on change, since that takes milliseconds."""

    def __init__(self, language: str) -> None:
        self._tokenize = Tokenizer(language)
        self.documents: dict[int, str] = {}
        self._ids: list[int] = []
        self._bm25: bm25s.BM25 | None = None

    def update(self, documents: Mapping[int, str], removed: Iterable[int] = ()) -> None:
        for article_id in removed:
            self.documents.pop(article_id, None)
        self.documents.update(documents)
        self._ids = sorted(self.documents)
        self._bm25 = None
        if self._ids:
            self._bm25 = bm25s.BM25()
            corpus = [self._tokenize(self.documents[i]) for i in self._ids]
            self._bm25.index(corpus, show_progress=False)

    def scores(self, text: str, limit: int) -> dict[int, float]:
        """Raw BM25 of the best `limit` articles that share at least one term with the text."""
        tokens = self._tokenize(text)
        if self._bm25 is None or not tokens:
            return {}
        raw = self._bm25.get_scores(tokens)
        top = np.argsort(-raw)[:limit]
        return {self._ids[i]: float(raw[i]) for i in top if raw[i] > 0}
