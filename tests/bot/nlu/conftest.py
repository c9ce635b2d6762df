"""NLU fixtures: the embedder and the trained engine are built once per test session."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bot.catalogue import Catalogue
from bot.city import City
from bot.nlu.embedding_engine import EmbeddingEngine
from bot.nlu.engine import TrainReport
from bot.nlu.entities import EntityExtractor
from bot.nlu.training_data import TrainingData, load_training_data
from knowledge.embedder import Embedder, load_embedder

ROOT = Path(__file__).resolve().parents[3]
NLU_YML = ROOT / "bot" / "data" / "nlu.yml"
# Wednesday 6 May 2026, 14:30: every relative date in the tests resolves against this.
NOW = datetime(2026, 5, 6, 14, 30)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return load_embedder()


@pytest.fixture(scope="session")
def city() -> City:
    return City.load()


@pytest.fixture(scope="session")
def nlu_data() -> TrainingData:
    return load_training_data(NLU_YML)


@pytest.fixture(scope="session")
def extractor(nlu_data: TrainingData, city: City) -> EntityExtractor:
    return EntityExtractor(nlu_data, city, Catalogue.load().codes, now=lambda: NOW)


@pytest.fixture(scope="session")
def trained(
    embedder: Embedder, extractor: EntityExtractor, nlu_data: TrainingData
) -> tuple[EmbeddingEngine, TrainReport]:
    engine = EmbeddingEngine(embedder, extractor)
    return engine, engine.train(nlu_data)
