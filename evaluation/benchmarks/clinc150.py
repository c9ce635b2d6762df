"""CLINC150 (Larson et al., 2019) against our EmbeddingEngine: the standard out-of-scope test.

Reads ``clinc150/data_full.json`` in the data sets' folder (``HOTLINE_DATASETS_DIR``, see
evaluation/benchmarks/datasets.py) or ``--data`` at run time only;
nothing of it is copied into the project. Thresholds are chosen on ``val`` + ``oos_val`` only
and reported on ``test`` + ``oos_test``, as the paper prescribes.

    .venv/bin/python -m evaluation.benchmarks.clinc150 [--data PATH] [--quick]

Prints, for each engine configuration and for out-of-scope trained as a class or not:
in-scope accuracy on ``test`` with no threshold; with the threshold chosen on ``val`` (by
macro F1; by the lowest floor reaching 75 % out-of-scope recall on ``oos_val`` with 95 %
confidence, the engine's rule; and by the lowest floor whose plain ``oos_val`` recall reaches
75 %) the in-scope accuracy on ``test`` and the out-of-scope recall on ``oos_test``; and the
training time, encoding of the 15,000 training texts included.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from evaluation.benchmarks.datasets import dataset

DEFAULT_DATA = dataset("clinc150", "data_full.json")
OOS = "out_of_scope"
RECALL_TARGET = 0.75


def _data(rows: list[list[str]], intent: str | None = None) -> object:
    from bot.nlu.training_data import Example, TrainingData

    return TrainingData(examples=[Example(t, intent or y) for t, y in rows])


def _rates(
    proba: np.ndarray, intents: list[str], gold: list[str], threshold: float
) -> tuple[float, float]:
    """(in-scope accuracy, out-of-scope recall) at a threshold."""
    from bot.nlu.embedding_engine import thresholded

    predicted = thresholded(proba, intents, threshold)
    gold_arr = np.asarray(gold, dtype=object)
    oos = gold_arr == OOS
    return float((predicted[~oos] == gold_arr[~oos]).mean()), float((predicted[oos] == OOS).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="embeddings-only config alone")
    args = parser.parse_args()

    from bot.nlu.embedding_engine import EmbeddingEngine, EngineConfig, choose_threshold
    from knowledge.embedder import load_embedder

    if not args.data.is_file():
        parser.error(f"no CLINC150 at {args.data}: set HOTLINE_DATASETS_DIR or give --data")
    raw = json.loads(args.data.read_text(encoding="utf-8"))
    embedder = load_embedder()
    embedder.features(["warm up"])
    vectors: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for split in ("train", "oos_train", "val", "oos_val", "test", "oos_test"):
        started = time.perf_counter()
        vectors[split] = embedder.features([t for t, _ in raw[split]])
        seconds[split] = time.perf_counter() - started
    print(
        f"encoded {sum(len(raw[s]) for s in vectors)} texts; train (15,000) took "
        f"{seconds['train']:.1f} s with {os.environ.get('HOTLINE_ENCODER_THREADS', 1)} encoder "
        "thread(s) (HOTLINE_ENCODER_THREADS)"
    )
    val_rows = raw["val"] + [[t, OOS] for t, _ in raw["oos_val"]]
    val_vectors = np.vstack([vectors["val"], vectors["oos_val"]])
    test_rows = raw["test"] + [[t, OOS] for t, _ in raw["oos_test"]]
    test_vectors = np.vstack([vectors["test"], vectors["oos_test"]])
    test_gold = [y for _, y in test_rows]

    configs = {"sentence embedding + LR": EngineConfig(tfidf=False, layer_weight=0.0)}
    if not args.quick:
        configs["sentence emb. + tf-idf word/char + LR"] = EngineConfig(layer_weight=0.0)
        configs["+ inner layers 4, 5 (default)"] = EngineConfig()
    header = (
        f"{'configuration':46} {'oos class':9} {'in-scope':>8} | {'thr F1':>6} {'in':>6} "
        f"{'oos':>6} | {'thr@75':>6} {'in':>6} {'oos':>6} | {'pt@75':>6} {'in':>6} {'oos':>6} "
        f"| {'train s':>7}"
    )
    print(header)
    print("-" * len(header))
    for label, config in configs.items():
        for with_oos in (False, True):
            rows = raw["train"] + ([[t, OOS] for t, _ in raw["oos_train"]] if with_oos else [])
            train_vectors = (
                np.vstack([vectors["train"], vectors["oos_train"]])
                if with_oos
                else vectors["train"]
            )
            engine = EmbeddingEngine(embedder, None, replace(config))
            report = engine.train(
                _data(rows),
                embedded=train_vectors,
                validation=_data(val_rows),
                validation_embedded=val_vectors,
            )
            encode_s = seconds["train"] + (seconds["oos_train"] if with_oos else 0.0)
            val_proba = engine.predict_proba([t for t, _ in val_rows], val_vectors)
            proba = engine.predict_proba([t for t, _ in test_rows], test_vectors)
            plain, _ = _rates(proba, engine.intents, test_gold, 0.0)
            f1_t = report.threshold or 0.0
            in_f1, oos_f1 = _rates(proba, engine.intents, test_gold, f1_t)
            recall_t, _ = choose_threshold(
                val_proba, engine.intents, [y for _, y in val_rows], RECALL_TARGET
            )
            in_r, oos_r = _rates(proba, engine.intents, test_gold, recall_t)
            point_t, _ = choose_threshold(
                val_proba, engine.intents, [y for _, y in val_rows], RECALL_TARGET, 0.0
            )
            in_p, oos_p = _rates(proba, engine.intents, test_gold, point_t)
            print(
                f"{label:46} {'yes' if with_oos else 'no':9} {plain:8.2%} | {f1_t:6.2f} "
                f"{in_f1:6.2%} {oos_f1:6.2%} | {recall_t:6.2f} {in_r:6.2%} {oos_r:6.2%} | "
                f"{point_t:6.2f} {in_p:6.2%} {oos_p:6.2%} | {report.seconds + encode_s:7.1f}",
                flush=True,
            )
    print(
        "in-scope: accuracy on test with no threshold; thr F1: floor maximising macro F1 on "
        "val+oos_val; thr@75: lowest floor whose oos_val recall reaches 75 % with 95 % "
        "confidence (one-sided Clopper-Pearson, the engine's rule); pt@75: lowest floor whose "
        "plain oos_val recall is >= 75 %; in/oos: test in-scope accuracy and oos_test recall "
        "at that floor; train s: encoding + fitting."
    )


if __name__ == "__main__":
    main()
