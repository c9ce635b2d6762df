"""Understanding: Rasa-format training data, entity rules and pluggable intent engines."""

from __future__ import annotations

from bot.nlu.engine import NLUEngine
from bot.nlu.entities import EntityExtractor
from knowledge.embedder import Embedder

ENGINES = ("embedding", "rasa")


def build_engine(
    name: str, embedder: Embedder, extractor: EntityExtractor, rasa_url: str | None = None
) -> NLUEngine:
    """The engine named in settings (HOTLINE_NLU_ENGINE)."""
    if name == "embedding":
        from bot.nlu.embedding_engine import EmbeddingEngine

        return EmbeddingEngine(embedder, extractor)
    if name == "rasa":
        from bot.nlu.rasa_engine import RasaEngine

        if not rasa_url:
            raise ValueError("HOTLINE_NLU_ENGINE=rasa needs HOTLINE_RASA_URL")
        return RasaEngine(rasa_url, extractor)
    raise ValueError(f"unknown NLU engine {name!r}; choose one of {', '.join(ENGINES)}")
