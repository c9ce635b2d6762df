"""The embedding engine: trains on our data, saves, reloads, parses fast, knows its limits."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from bot.nlu import build_engine
from bot.nlu.embedding_engine import (
    EmbeddingEngine,
    EngineConfig,
    _Model,
    choose_threshold,
    recall_lower_bound,
)
from bot.nlu.engine import OUT_OF_SCOPE, NLUEngine, TrainReport
from bot.nlu.entities import EntityExtractor
from bot.nlu.training_data import Example, TrainingData
from knowledge.embedder import Embedder

# Measured on a stratified 80/20 split of bot/data/nlu.yml (seed 7, 149 held-out examples of
# 744, threshold chosen by the engine on the training part only): 0.872 (0.885 on an earlier
# 736-example version of the data). The floor leaves room for drift as colleagues edit the data.
HELDOUT_ACCURACY_FLOOR = 0.82
# The engine's own out-of-fold estimate (macro-F1 threshold): measured 0.919.
TRAIN_REPORT_FLOOR = 0.84

OUT_OF_SCOPE_PHRASES = [
    "what's the weather like in Paris",
    "tell me a joke",
    "who won the football last night",
    "how do I bake sourdough bread",
    "what is the square root of 144",
    "play some music",
    "book me a flight to Tokyo",
    "what's bitcoin trading at",
]
IN_SCOPE = {
    "there's a huge pothole on Elm Street": "report_problem",
    "the street light outside my house is broken": "report_problem",
    "what's the status of REQ-2026-000123": "check_status",
    "I want to speak to a real person": "talk_to_human",
    "when is the library open": "ask_question",
    "hello": "greet",
    "thanks a lot": "thank",
    "yes": "affirm",
    "no": "deny",
    "say that again": "repeat",
    "please speak more slowly": "slower",
    "can we talk in Spanish": "change_language",
    "bye": "goodbye",
}


def test_trains_and_reports(trained: tuple[EmbeddingEngine, TrainReport]) -> None:
    engine, report = trained
    assert report.n_examples > 500
    assert report.threshold is not None and 0.0 <= report.threshold < 0.96
    assert report.heldout_accuracy is not None
    print(
        f"train report: {report.seconds:.1f} s, threshold {report.threshold:.2f}, "
        f"out-of-fold accuracy {report.heldout_accuracy:.3f}, "
        f"macro F1 {report.heldout_macro_f1:.3f} ({report.details['held_out']})"
    )
    assert report.heldout_accuracy >= TRAIN_REPORT_FLOOR
    assert OUT_OF_SCOPE in engine.intents


@pytest.mark.parametrize(("text", "intent"), list(IN_SCOPE.items()))
def test_in_scope_phrases(
    trained: tuple[EmbeddingEngine, TrainReport], text: str, intent: str
) -> None:
    result = trained[0].parse(text)
    assert result.intent == intent, result.ranking[:3]


def test_out_of_scope_phrases_land_out_of_scope(
    trained: tuple[EmbeddingEngine, TrainReport],
) -> None:
    engine = trained[0]
    results = {text: engine.parse(text) for text in OUT_OF_SCOPE_PHRASES}
    wrong = {t: r.ranking[:2] for t, r in results.items() if r.intent != OUT_OF_SCOPE}
    assert not wrong


def test_gibberish_empty_and_other_scripts(trained: tuple[EmbeddingEngine, TrainReport]) -> None:
    engine = trained[0]
    empty = engine.parse("   ")
    assert (empty.intent, empty.confidence, empty.ranking) == (OUT_OF_SCOPE, 0.0, [])
    assert engine.parse("qwpoeiruty zxmcnvb").intent == OUT_OF_SCOPE
    chinese = engine.parse("路灯坏了")
    assert chinese.language == "zh"
    assert 0.0 <= chinese.confidence <= 1.0
    long = engine.parse("pothole " * 3000)
    assert long.intent in engine.intents


def test_parse_gives_entities_ranking_and_language(
    trained: tuple[EmbeddingEngine, TrainReport], embedder: Embedder
) -> None:
    engine = trained[0]
    text = "there is a pothole outside 14 Elm St"
    result = engine.parse(text, embedder.features_one(text))
    assert result.intent == "report_problem"
    assert [(e.entity, e.value) for e in result.entities] == [
        ("service_type", "pothole"),
        ("street", "14 Elm Street"),
    ]
    assert result.ranking[0] == (result.intent, result.confidence)
    assert abs(sum(p for _, p in result.ranking) - 1.0) < 0.05 or len(result.ranking) == 10
    assert result.language == "en"


def test_save_reload_same_parse(
    trained: tuple[EmbeddingEngine, TrainReport],
    embedder: Embedder,
    extractor: EntityExtractor,
    tmp_path: Path,
) -> None:
    engine = trained[0]
    engine.save(tmp_path)
    meta = json.loads((tmp_path / "engine.json").read_text())
    assert meta["format"] >= 1
    assert meta["intents"] == engine.intents
    assert meta["threshold"] == engine.threshold
    again = EmbeddingEngine(embedder, extractor)
    again.load(tmp_path)
    for text in [*IN_SCOPE, *OUT_OF_SCOPE_PHRASES]:
        embedded = embedder.features_one(text)
        a, b = engine.parse(text, embedded), again.parse(text, embedded)
        assert (a.intent, a.entities) == (b.intent, b.entities)
        assert a.confidence == pytest.approx(b.confidence, abs=1e-6)


def test_load_refuses_another_format(
    trained: tuple[EmbeddingEngine, TrainReport], embedder: Embedder, tmp_path: Path
) -> None:
    trained[0].save(tmp_path)
    meta = json.loads((tmp_path / "engine.json").read_text())
    meta["format"] = 999
    (tmp_path / "engine.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="retrain"):
        EmbeddingEngine(embedder, None).load(tmp_path)
    with pytest.raises(RuntimeError):
        EmbeddingEngine(embedder, None).parse("hello")


def test_heldout_accuracy_on_a_split_of_our_data(
    nlu_data: TrainingData, embedder: Embedder, extractor: EntityExtractor
) -> None:
    examples = nlu_data.examples
    labels = [e.intent for e in examples]
    fit, held = train_test_split(examples, test_size=0.2, stratify=labels, random_state=7)
    engine = EmbeddingEngine(embedder, extractor)
    engine.train(TrainingData(examples=list(fit)))
    embedded = embedder.features([e.text for e in held])
    predicted = [engine.parse(e.text, v).intent for e, v in zip(held, embedded, strict=True)]
    accuracy = float(np.mean([p == e.intent for p, e in zip(predicted, held, strict=True)]))
    misses = Counter((e.intent, p) for p, e in zip(predicted, held, strict=True) if p != e.intent)
    print(f"held-out accuracy on 20 % of nlu.yml: {accuracy:.3f} ({len(held)} examples)")
    print(f"most common confusions (gold, predicted): {misses.most_common(5)}")
    assert accuracy >= HELDOUT_ACCURACY_FLOOR


def test_threshold_is_chosen_on_held_out_predictions() -> None:
    intents = ["a", "b", OUT_OF_SCOPE]
    proba = np.array(
        [
            [0.9, 0.05, 0.05],
            [0.8, 0.1, 0.1],
            [0.1, 0.85, 0.05],
            [0.45, 0.4, 0.15],
            [0.4, 0.35, 0.25],
        ]
    )
    gold = ["a", "a", "b", OUT_OF_SCOPE, OUT_OF_SCOPE]
    threshold, row = choose_threshold(proba, intents, gold, None)
    assert 0.45 < threshold <= 0.8
    assert row["macro_f1"] == 1.0
    # Two out-of-scope examples cannot show 0.5 recall with confidence: the point estimate.
    lowest, _ = choose_threshold(proba, intents, gold, 0.5)
    assert 0.40 < lowest <= 0.45  # the lowest floor catching half of the out-of-scope


def test_recall_target_is_reached_with_confidence() -> None:
    # 100 out-of-scope examples with top confidences 0.5025 .. 0.9975, 100 sure in-scope ones.
    rng = np.random.default_rng(3)
    oos_top = rng.permutation(0.5 + (np.arange(100) + 0.5) / 200)
    proba = np.vstack([np.column_stack([oos_top, 1 - oos_top]), np.tile([0.999, 0.001], (100, 1))])
    intents = ["a", "b"]
    gold = [OUT_OF_SCOPE] * 100 + ["a"] * 100
    point, row = choose_threshold(proba, intents, gold, 0.75, recall_confidence=0.0)
    assert point == pytest.approx(0.88) and row["oos_recall"] == pytest.approx(0.76)
    sure, row = choose_threshold(proba, intents, gold, 0.75)
    assert row["oos_recall_bound"] >= 0.75 > recall_lower_bound(82, 100, 0.95)
    assert sure > point and row["oos_recall"] == pytest.approx((sure - 0.5) * 2)
    # Clopper-Pearson, one-sided 95 %: 75 of 100 gives 0.669; nothing seen, no bound.
    assert recall_lower_bound(75, 100, 0.95) == pytest.approx(0.669, abs=0.001)
    assert recall_lower_bound(100, 100, 0.95) == pytest.approx(0.05 ** (1 / 100))
    assert recall_lower_bound(0, 100, 0.95) == 0.0
    assert recall_lower_bound(3, 4, 0.0) == 0.75


@pytest.mark.parametrize(
    ("config", "other"),
    [
        (EngineConfig(word_weight=3.0), EngineConfig(word_weight=1.0)),
        (EngineConfig(layer_weight=3.0), EngineConfig(layer_weight=0.0)),
        (EngineConfig(embedding_weight=0.5), EngineConfig()),
    ],
)
def test_block_weights_are_folded_into_the_fitted_weights(
    embedder: Embedder, config: EngineConfig, other: EngineConfig
) -> None:
    texts = ["the light is out", "streetlight broken", "pothole on main", "a hole in the road"]
    texts += ["lamp post dark", "road is cracked"]
    labels = ["light", "light", "road", "road", "light", "road"]
    embedded = embedder.features(texts)
    model = _Model.fit(config, texts, embedded, labels)
    classifier = LogisticRegression(
        C=config.c, max_iter=config.max_iter, class_weight=config.class_weight
    ).fit(model.features.matrix(texts, embedded), labels)
    queries = ["the street lamp is out", "deep hole in the road"]
    expected = classifier.predict_proba(model.features.matrix(queries, embedder.features(queries)))
    batch = model.proba(queries, embedder.features(queries))
    one = model.proba(queries[:1], embedder.features(queries[:1]))
    assert batch == pytest.approx(expected, abs=1e-4)
    assert one[0] == pytest.approx(batch[0], abs=1e-5)
    plain = _Model.fit(other, texts, embedded, labels)
    assert not np.allclose(plain.proba(queries, embedder.features(queries)), batch)


def test_sentence_vectors_alone_are_refused(embedder: Embedder) -> None:
    texts, labels = ["light out", "hole in road", "lamp dark"], ["light", "road", "light"]
    data = TrainingData(examples=[Example(t, y) for t, y in zip(texts, labels, strict=True)])
    engine = EmbeddingEngine(embedder, None)
    with pytest.raises(ValueError, match=r"Embedder\.features"):
        engine.train(data, embedded=embedder.encode(texts))  # 384 wide: the sentence vector
    with pytest.raises(ValueError, match=r"Embedder\.features"):
        engine.train(data, embedded=embedder.features(texts)[:2])  # a row short
    engine.train(data)
    with pytest.raises(ValueError, match=r"Embedder\.features"):
        engine.parse("light out", embedder.encode_one("light out"))


def test_tiny_and_odd_training_sets(embedder: Embedder) -> None:
    one = TrainingData(examples=[Example("hello", "greet"), Example("hi", "greet")])
    engine = EmbeddingEngine(embedder, None, EngineConfig(tfidf=False))
    assert engine.train(one).threshold == 0.0
    assert engine.parse("hey").intent == "greet"
    two = TrainingData(
        examples=[Example(t, "greet") for t in ("hello", "hi", "hey there", "good morning")]
        + [Example(t, "goodbye") for t in ("bye", "see you", "goodbye", "farewell")]
        + [Example("ciao for now", "rare")]
    )
    # No out_of_scope examples: no floor, so nothing in scope is turned away.
    report = engine.train(two)
    assert report.threshold == 0.0 and "no out_of_scope" in report.details["held_out"]
    assert engine.parse("ciao").intent != OUT_OF_SCOPE
    three = TrainingData(
        examples=[
            *two.examples,
            *(Example(t, OUT_OF_SCOPE) for t in ("weather on mars", "tell a joke", "sing")),
        ]
    )
    report = engine.train(three)
    assert report.heldout_accuracy is not None
    assert engine.parse("bye bye").intent in {"goodbye", OUT_OF_SCOPE}
    with pytest.raises(ValueError):
        engine.train(TrainingData())


def test_build_engine_factory(embedder: Embedder, extractor: EntityExtractor) -> None:
    engine: NLUEngine = build_engine("embedding", embedder, extractor)
    assert engine.name == "embedding"
    with pytest.raises(ValueError, match="unknown NLU engine"):
        build_engine("nonsense", embedder, extractor)
