"""`hotline evaluate nlu`: k-fold cross-validation of the understanding engine on its data.

The NLU files (Rasa YAML, ``.yml`` or ``.yaml``) are read with our own loader, exactly as
`hotline train` reads them, and split by example, stratified per intent; each fold keeps every
synonym, regex and lookup table and is trained with the configured engine; the held-out
examples (entity markup removed) are parsed. Intents with fewer examples than folds stay in
training and are not scored.

Reports accuracy, macro F1, per-intent precision/recall/F1, per-entity precision/recall/F1
(an entity counts when kind, role, group and span match), out-of-scope precision and recall
(gold: the ``out_of_scope`` intent; predicted: that intent or no intent), and the confidence
threshold that reaches a target out-of-scope recall, with the in-scope accuracy it leaves.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bot.nlu.training_data import Example
from evaluation.qa import report_pages

OOS = "out_of_scope"
SEED = 7

Span = tuple[str, str | None, str | None, int, int]  # entity, role, group, start, end


@dataclass(frozen=True)
class Prediction:
    text: str
    gold: str
    intent: str  # the engine's answer, OOS when it gives none
    top: str  # best-ranked intent before any out-of-scope decision
    confidence: float
    gold_entities: tuple[Span, ...] = ()
    entities: tuple[Span, ...] = ()


def folds_of(examples: list[Example], k: int) -> list[list[Example]]:
    """Stratified: each intent's examples dealt round-robin over k folds after a shuffle."""
    rng = random.Random(SEED)
    by_intent: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_intent[example.intent].append(example)
    folds: list[list[Example]] = [[] for _ in range(k)]
    for intent in sorted(by_intent):
        items = by_intent[intent]
        if len(items) < k:
            continue
        rng.shuffle(items)
        for i, example in enumerate(items):
            folds[i % k].append(example)
    return folds


def _predict(engine: Any, embedder: Any, held_out: list[Example]) -> list[Prediction]:
    texts = [e.text for e in held_out]
    embedded = embedder.features(texts)
    predictions = []
    for example, row in zip(held_out, embedded, strict=True):
        result = engine.parse(example.text, row)
        ranking = list(getattr(result, "ranking", []) or [])
        top, score = ranking[0] if ranking else (result.intent or OOS, result.confidence)
        intent = result.intent if result.intent else OOS
        gold = tuple((a.entity, a.role, a.group, a.start, a.end) for a in example.entities)
        names = {g[0] for g in gold} | learned_names(engine)
        got = tuple(
            (e.entity, e.role, e.group, e.start, e.end)
            for e in result.entities
            if e.entity in names
        )
        predictions.append(
            Prediction(example.text, example.intent, intent, top, float(score), gold, got)
        )
    return predictions


def learned_names(engine: Any) -> set[str]:
    """The entities an engine learned; rule entities no example annotates are not scored."""
    tagger = getattr(engine, "tagger", None)
    return set(tagger.entities) if tagger is not None else set()


def cross_validate(
    paths: list[Path], folds: int, engine_name: str = "embedding"
) -> tuple[list[Prediction], float]:
    """Predictions for every scored example, and the mean training seconds per fold."""
    from bot.catalogue import Catalogue
    from bot.city import City
    from bot.nlu import build_engine
    from bot.nlu.entities import EntityExtractor
    from bot.nlu.training_data import load_training_data
    from knowledge.embedder import load_embedder

    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    if engine_name == "rasa":
        raise ValueError(
            "the rasa engine is trained by Rasa, not here: cross-validate it with "
            "`rasa test nlu --cross-validation`, or compare with "
            "evaluation/benchmarks/rasa_side_by_side"
        )
    data = load_training_data(*paths)  # malformed data: our loader's message, file and line
    if not data.examples:
        raise ValueError(f"no NLU examples in {', '.join(map(str, paths))}")
    parts = folds_of(list(data.examples), folds)
    scored = {id(e) for part in parts for e in part}
    always = [e for e in data.examples if id(e) not in scored]
    embedder = load_embedder()
    city, codes = City.load(), Catalogue.load().codes
    predictions: list[Prediction] = []
    seconds = 0.0
    for number, held_out in enumerate(parts):
        train = always + [e for i, p in enumerate(parts) if i != number for e in p]
        fold = replace(data, examples=train)
        engine = build_engine(engine_name, embedder, EntityExtractor(fold, city, codes))
        started = time.perf_counter()
        engine.train(fold)
        seconds += time.perf_counter() - started
        predictions += _predict(engine, embedder, held_out)
    return predictions, seconds / folds


def entity_scores(predictions: list[Prediction]) -> dict[str, dict[str, float]]:
    """Per entity (with its role): an entity counts when its kind, role, group and span all
    match the annotation, as Rasa's own evaluation counts them (values are normalised after)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # tp, predicted, gold
    for p in predictions:
        gold, got = set(p.gold_entities), set(p.entities)
        for span in got:
            counts[_entity_label(span)][1] += 1
            if span in gold:
                counts[_entity_label(span)][0] += 1
        for span in gold:
            counts[_entity_label(span)][2] += 1
    return {name: _prf(*c) for name, c in sorted(counts.items())}


def _entity_label(span: Span) -> str:
    entity, role, group = span[:3]
    return entity + (f"#{role}" if role else "") + (f"@{group}" if group else "")


def _prf(tp: int, predicted: int, gold: int) -> dict[str, float]:
    precision = tp / predicted if predicted else 0.0
    recall = tp / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": gold}


def micro_entity_f1(predictions: list[Prediction]) -> dict[str, float]:
    tp = sum(len(set(p.gold_entities) & set(p.entities)) for p in predictions)
    predicted = sum(len(set(p.entities)) for p in predictions)
    gold = sum(len(set(p.gold_entities)) for p in predictions)
    return _prf(tp, predicted, gold)


def threshold_for(predictions: list[Prediction], target_recall: float) -> dict[str, float]:
    """The lowest confidence cut-off whose out-of-scope recall reaches the target.

    Below the cut-off a parse counts as out of scope, on top of the engine's own decision.
    """
    oos = [p for p in predictions if p.gold == OOS]
    ins = [p for p in predictions if p.gold != OOS]
    if not oos or not ins:
        return {}
    for t in np.round(np.arange(0.0, 1.0001, 0.01), 2):
        recall = sum(p.intent == OOS or p.confidence < t for p in oos) / len(oos)
        if recall >= target_recall:
            accuracy = sum(p.intent == p.gold and p.confidence >= t for p in ins) / len(ins)
            return {"threshold": float(t), "oos_recall": recall, "in_scope_accuracy": accuracy}
    return {"threshold": 1.0, "oos_recall": 1.0, "in_scope_accuracy": 0.0}


def metrics(predictions: list[Prediction], target_recall: float) -> dict[str, Any]:
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    gold = [p.gold for p in predictions]
    got = [p.intent for p in predictions]
    labels = sorted(set(gold))
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, got, labels=labels, zero_division=0
    )
    per_intent = {
        label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    }
    summary: dict[str, Any] = {
        "examples": len(predictions),
        "accuracy": sum(g == p for g, p in zip(gold, got, strict=True)) / len(gold),
        "macro_f1": float(f1_score(gold, got, labels=labels, average="macro", zero_division=0)),
        "per_intent": per_intent,
        "entities": entity_scores(predictions),
        "entities_micro": micro_entity_f1(predictions),
    }
    if OOS in per_intent:
        summary["out_of_scope"] = {
            "precision": per_intent[OOS]["precision"],
            "recall": per_intent[OOS]["recall"],
            "target_recall": target_recall,
            **threshold_for(predictions, target_recall),
        }
    return summary


def _plots(predictions: list[Prediction], out: Path) -> list[dict[str, str]]:
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    labels = sorted({p.gold for p in predictions} | {p.intent for p in predictions})
    matrix = confusion_matrix(
        [p.gold for p in predictions], [p.intent for p in predictions], labels=labels
    )
    size = max(6.0, 0.35 * len(labels))
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(labels) <= 30:
        for (i, j), value in np.ndenumerate(matrix):
            if value:
                colour = "white" if value > matrix.max() / 2 else "black"
                ax.text(j, i, str(value), ha="center", va="center", fontsize=6, color=colour)
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(out / "confusion.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3.8))
    groups = {
        "in scope, right": [
            p.confidence for p in predictions if p.gold != OOS and p.intent == p.gold
        ],
        "in scope, wrong": [
            p.confidence for p in predictions if p.gold != OOS and p.intent != p.gold
        ],
        "out of scope": [p.confidence for p in predictions if p.gold == OOS],
    }
    ax.hist(
        list(groups.values()),
        bins=20,
        range=(0, 1),
        label=list(groups),
        color=["#2a8a4a", "#c0392b", "#7a5900"],
    )
    ax.set_xlabel("confidence of the top intent")
    ax.set_ylabel("examples")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "confidence.png", dpi=110)
    plt.close(fig)

    plots = [
        {
            "title": "Confusion matrix",
            "file": "confusion.png",
            "alt": "confusion matrix of true against predicted intents",
        },
        {
            "title": "Confidence",
            "file": "confidence.png",
            "alt": "histograms of confidence for right, wrong and out-of-scope examples",
        },
    ]
    oos = [p for p in predictions if p.gold == OOS]
    ins = [p for p in predictions if p.gold != OOS]
    if oos and ins:
        ts = np.linspace(0, 1, 101)
        fig, ax = plt.subplots(figsize=(7, 3.8))
        ax.plot(
            ts,
            [sum(p.intent == OOS or p.confidence < t for p in oos) / len(oos) for t in ts],
            label="out-of-scope recall",
        )
        ax.plot(
            ts,
            [sum(p.intent == p.gold and p.confidence >= t for p in ins) / len(ins) for t in ts],
            label="in-scope accuracy",
        )
        ax.set_xlabel("confidence threshold")
        ax.set_ylim(0, 1.02)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "threshold.png", dpi=110)
        plt.close(fig)
        plots.append(
            {
                "title": "Threshold trade-off",
                "file": "threshold.png",
                "alt": "out-of-scope recall and in-scope accuracy against the threshold",
            }
        )
    return plots


def run(
    data: list[Path] | None,
    *,
    folds: int,
    out: Path,
    target_oos_recall: float = 0.9,
    engine_name: str | None = None,
) -> dict[str, Any]:
    from bot.runtime import training_files
    from bot.settings import Settings

    settings = Settings()
    paths = data or training_files(settings)
    predictions, train_seconds = cross_validate(paths, folds, engine_name or settings.nlu_engine)
    summary = metrics(predictions, target_oos_recall)
    summary.update(
        folds=folds,
        train_seconds_per_fold=train_seconds,
        data=[str(p) for p in paths],
        errors=[
            {"text": p.text, "true": p.gold, "predicted": p.intent, "confidence": p.confidence}
            for p in predictions
            if p.intent != p.gold
        ],
    )
    out.mkdir(parents=True, exist_ok=True)
    plots = _plots(predictions, out)
    headline = {k: summary[k] for k in ("examples", "accuracy", "macro_f1")}
    oos = summary.get("out_of_scope", {})
    headline.update({f"out of scope {k}": v for k, v in oos.items()})
    report_pages.write(
        out,
        title="Understanding quality (k-fold cross-validation)",
        intro=f"{folds}-fold cross-validation over {', '.join(map(str, paths))}.",
        summary=summary,
        headline=headline,
        tables=[
            {
                "title": "Per intent",
                "columns": ["intent", "precision", "recall", "F1", "support"],
                "rows": [
                    [i, m["precision"], m["recall"], m["f1"], m["support"]]
                    for i, m in summary["per_intent"].items()
                ],
            },
            {
                "title": "Per entity",
                "columns": ["entity", "precision", "recall", "F1", "support"],
                "rows": [
                    [name, m["precision"], m["recall"], m["f1"], m["support"]]
                    for name, m in summary["entities"].items()
                ],
            },
            {
                "title": "Misclassified examples",
                "columns": ["text", "true", "predicted", "confidence"],
                "rows": [
                    [e["text"], e["true"], e["predicted"], e["confidence"]]
                    for e in summary["errors"]
                ],
            },
        ],
        plots=plots,
    )
    return summary


def describe(summary: dict[str, Any]) -> str:
    lines = [
        f"{summary['folds']}-fold cross-validation on {summary['examples']} examples: "
        f"accuracy {summary['accuracy']:.3f}, macro F1 {summary['macro_f1']:.3f}, "
        f"{summary['train_seconds_per_fold']:.1f} s training per fold"
    ]
    oos = summary.get("out_of_scope")
    if oos:
        lines.append(f"out of scope: precision {oos['precision']:.3f}, recall {oos['recall']:.3f}")
        if "threshold" in oos:
            lines.append(
                f"recall >= {oos['target_recall']:.2f} needs threshold {oos['threshold']:.2f} "
                f"(recall {oos['oos_recall']:.3f}, in-scope accuracy "
                f"{oos['in_scope_accuracy']:.3f})"
            )
    micro = summary["entities_micro"]
    if micro["support"]:
        lines.append(
            f"entities: precision {micro['precision']:.3f}, recall {micro['recall']:.3f}, "
            f"F1 {micro['f1']:.3f} over {micro['support']} annotations; "
            + ", ".join(f"{n} F1 {m['f1']:.2f}" for n, m in summary["entities"].items())
        )
    worst = sorted(summary["per_intent"].items(), key=lambda kv: kv[1]["f1"])[:3]
    lines.append("weakest intents: " + ", ".join(f"{i} F1 {m['f1']:.2f}" for i, m in worst))
    return "\n".join(lines)
