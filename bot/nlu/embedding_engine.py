"""Default engine: sentence embeddings and a logistic-regression classifier, trained in seconds.

Out-of-scope is both a trained intent and a confidence floor; the floor and the regularisation
are chosen on a stratified held-out split of the training data, never guessed. A message that is
all but identical to a training example takes that example's intent: short control phrases
("report a problem") must never lose to the classifier's smoothing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from bot.nlu.engine import OUT_OF_SCOPE, ParseResult, TrainReport
from bot.nlu.entities import EntityExtractor
from bot.nlu.training_data import TrainingData
from knowledge.embedder import Embedder

FORMAT_VERSION = 2
C_GRID = (4.0, 16.0, 64.0)
EXAMPLE_MATCH = 0.95  # cosine to a training example that counts as the same message
THRESHOLDS = np.round(np.arange(0.0, 0.71, 0.02), 2)
HELDOUT = 0.2
SEED = 13


def _classifier(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=3000)


def apply_threshold(proba: np.ndarray, classes: np.ndarray, threshold: float) -> np.ndarray:
    """Predicted intents, with anything less sure than the threshold called out of scope."""
    predicted = classes[proba.argmax(axis=1)]
    return np.where(proba.max(axis=1) < threshold, OUT_OF_SCOPE, predicted)


class EmbeddingEngine:
    name = "embedding"

    def __init__(self, embedder: Embedder, extractor: EntityExtractor) -> None:
        self.embedder = embedder
        self.extractor = extractor
        self.classifier: LogisticRegression | None = None
        self.threshold = 0.0
        self.examples = np.zeros((0, 0), dtype=np.float32)
        self.example_intents = np.array([], dtype=object)

    def train(self, data: TrainingData) -> TrainReport:
        started = time.perf_counter()
        texts = [e.text for e in data.examples]
        labels = np.array([e.intent for e in data.examples])
        vectors = self.embedder.encode(texts)
        fit_x, held_x, fit_y, held_y = train_test_split(
            vectors, labels, test_size=HELDOUT, stratify=labels, random_state=SEED
        )
        best: tuple[float, float, float, float] | None = None  # (f1, acc, c, threshold)
        for c in C_GRID:
            model = _classifier(c).fit(fit_x, fit_y)
            proba = model.predict_proba(held_x)
            for threshold in THRESHOLDS:
                predicted = apply_threshold(proba, model.classes_, float(threshold))
                f1 = f1_score(held_y, predicted, average="macro")
                if best is None or f1 > best[0]:
                    best = (f1, float(np.mean(predicted == held_y)), c, float(threshold))
        assert best is not None
        _f1, accuracy, c, self.threshold = best
        self.classifier = _classifier(c).fit(vectors, labels)
        self.examples, self.example_intents = vectors.astype(np.float32), labels
        return TrainReport(time.perf_counter() - started, len(texts), self.threshold, accuracy)

    def save(self, directory: Path) -> None:
        if self.classifier is None:
            raise RuntimeError("train or load the engine before saving it")
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.classifier, directory / "classifier.joblib")
        np.savez(
            directory / "examples.npz",
            vectors=self.examples,
            intents=self.example_intents.astype(str),
        )
        (directory / "engine.json").write_text(
            json.dumps(
                {
                    "format": FORMAT_VERSION,
                    "threshold": self.threshold,
                    "intents": list(map(str, self.classifier.classes_)),
                }
            )
        )

    def load(self, directory: Path) -> None:
        meta = json.loads((directory / "engine.json").read_text())
        if meta["format"] != FORMAT_VERSION:
            raise ValueError(
                f"{directory}: model format {meta['format']}, expected "
                f"{FORMAT_VERSION}; retrain with `hotline train`"
            )
        self.classifier = joblib.load(directory / "classifier.joblib")
        with np.load(directory / "examples.npz") as saved:
            self.examples, self.example_intents = saved["vectors"], saved["intents"]
        self.threshold = float(meta["threshold"])

    def parse(self, text: str, vector: np.ndarray | None = None) -> ParseResult:
        if self.classifier is None:
            raise RuntimeError("the engine is not trained or loaded")
        if vector is None:
            vector = self.embedder.encode_one(text)
        proba = self.classifier.predict_proba(vector.reshape(1, -1))[0]
        order = np.argsort(-proba)[:5]
        classes = self.classifier.classes_
        ranking = [(str(classes[i]), float(proba[i])) for i in order]
        intent, confidence = ranking[0]
        similarity = self.examples @ vector
        nearest = int(similarity.argmax())
        if similarity[nearest] >= EXAMPLE_MATCH:
            intent = str(self.example_intents[nearest])
            confidence = max(float(proba[list(classes).index(intent)]), float(similarity[nearest]))
        elif confidence < self.threshold:
            intent = OUT_OF_SCOPE
        return ParseResult(text, intent, confidence, ranking, self.extractor.extract(text))
