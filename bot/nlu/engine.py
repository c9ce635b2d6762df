"""The one small interface every understanding engine implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.nlu.entities import Entity
from bot.nlu.training_data import TrainingData

OUT_OF_SCOPE = "out_of_scope"


@dataclass
class ParseResult:
    text: str
    intent: str
    confidence: float
    ranking: list[tuple[str, float]] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    language: str | None = None


@dataclass(frozen=True)
class TrainReport:
    seconds: float
    n_examples: int
    threshold: float | None = None
    heldout_accuracy: float | None = None
    heldout_macro_f1: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


class NLUEngine(Protocol):
    name: str

    def train(self, data: TrainingData) -> TrainReport: ...

    def save(self, directory: Path) -> None: ...

    def load(self, directory: Path) -> None: ...

    def parse(self, text: str, embedded: np.ndarray | None = None) -> ParseResult: ...
