"""An understanding engine that asks a running Rasa server, so a city keeps its Rasa model.

Chosen by ``HOTLINE_NLU_ENGINE=rasa`` with ``HOTLINE_RASA_URL`` (e.g. http://127.0.0.1:5005,
a server started with ``rasa run --enable-api``). Each parse is one ``POST /model/parse``.
Training happens on the Rasa side (``rasa train nlu``), so train/save/load here only record
the URL. Rasa's entities come first; our own extractor adds what Rasa did not find (streets
of our gazetteer, references, phone numbers, dates) where it does not overlap them. Rasa's
``nlu_fallback`` is our out-of-scope outcome. When the server cannot be reached the turn is
out of scope with our entities only, and a warning is logged (without the resident's text),
so the assistant keeps answering instead of failing every message.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bot.nlu.engine import OUT_OF_SCOPE, ParseResult, TrainReport
from bot.nlu.entities import Entity, EntityExtractor
from bot.nlu.training_data import TrainingData

log = logging.getLogger(__name__)
RASA_FALLBACK = "nlu_fallback"
EXTRACTOR = "rasa"


class RasaEngine:
    name = "rasa"

    def __init__(
        self,
        url: str,
        extractor: EntityExtractor | None = None,
        *,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.extractor = extractor
        self.client = client or httpx.Client(base_url=self.url, timeout=timeout)

    def train(self, data: TrainingData) -> TrainReport:
        """Nothing to train here: the model lives in the Rasa server."""
        return TrainReport(0.0, len(data.examples))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "engine.json").write_text(json.dumps({"engine": self.name, "url": self.url}))

    def load(self, directory: Path) -> None:
        """The configured URL wins over a saved one; the file only says what was used."""

    def parse(self, text: str, embedded: np.ndarray | None = None) -> ParseResult:
        ours = self.extractor.extract(text) if self.extractor else []
        try:
            response = self.client.post("/model/parse", json={"text": text})
            response.raise_for_status()
            body = response.json()
            if not isinstance(body, dict):
                raise ValueError("the answer is not a JSON object")
        except (httpx.HTTPError, ValueError) as exc:
            log.warning(
                "Rasa server %s did not parse (%s): turn taken as out of scope",
                self.url,
                type(exc).__name__,
            )
            return ParseResult(text, OUT_OF_SCOPE, 0.0, [], ours)
        intent, confidence = _intent(body.get("intent"))
        ranking = [_intent(item) for item in body.get("intent_ranking") or []] or [
            (intent, confidence)
        ]
        found = (_entity(item, text) for item in body.get("entities") or [])
        theirs = [e for e in found if e is not None]
        extra = [e for e in ours if all(e.end <= t.start or e.start >= t.end for t in theirs)]
        entities = sorted([*theirs, *extra], key=lambda e: e.start)
        return ParseResult(text, intent, confidence, ranking, entities)


def _intent(item: Any) -> tuple[str, float]:
    if not isinstance(item, dict) or not item.get("name"):
        return OUT_OF_SCOPE, 0.0
    name = str(item["name"])
    confidence = float(item.get("confidence") or 0.0)
    return (OUT_OF_SCOPE if name == RASA_FALLBACK else name), confidence


def _entity(item: Any, text: str) -> Entity | None:
    """Rasa's entity dict as ours; one without a usable span or value is dropped."""
    if not isinstance(item, dict) or not item.get("entity"):
        return None
    start, end = item.get("start"), item.get("end")
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        return None
    surface = text[start:end]
    value = item.get("value", surface)
    return Entity(str(item["entity"]), str(value), surface, start, end, EXTRACTOR)
