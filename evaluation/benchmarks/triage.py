"""The emergency and crisis detector on its held-out set: recall, false alarms, cost per turn.

    python -m evaluation.benchmarks.triage [--heldout evaluation/data/triage_heldout.yml]

Trains the detector on bot/data/triage.yml (and bot/data/nlu.yml's examples, all ordinary)
exactly as the server does (threshold from
out-of-fold predictions on that data), then prints the validation figures it chose the
threshold by, and the held-out figures: recall over emergencies and crises, the false-alarm
rate over ordinary messages, the confusion of outcomes, each kind's figure, and the misses
and false alarms themselves. Last, what triage adds to a turn: the detector alone on the
turn's features (they are computed for the intent classifier anyway), and for reference
the sentence encoding that makes them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bot.triage import (
    CRISIS,
    DATA,
    EMERGENCY,
    NONE,
    Triage,
    load_examples,
    outcome,
    training_examples,
)
from evaluation import DATA as EVALUATION_DATA
from knowledge.embedder import Embedder, load_embedder

# The first was written before the training set; the second later, by a writer who saw
# neither (the first's misses had been read by then while working on the detector).
HELDOUT = [
    EVALUATION_DATA / "triage_heldout.yml",
    EVALUATION_DATA / "triage_heldout_second.yml",
]
OUTCOMES = (EMERGENCY, CRISIS, NONE)
TIMING_ROUNDS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=Path, default=DATA)
    parser.add_argument("--heldout", type=Path, nargs="+", default=HELDOUT)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    embedder = load_embedder()
    triage = Triage(embedder)
    metrics = triage.train(training_examples(args.train))
    print(f"training: {metrics['examples']} examples ({metrics['alerting']} alerting)")
    print(
        f"validation ({metrics['validation']}): threshold {triage.threshold:.2f}, "
        f"recall {metrics['recall']:.2%}, false alarms {metrics['false_alarm_rate']:.2%} "
        f"(trained in {metrics['seconds']:.1f} s)"
    )
    sure = metrics["interrupt"]
    print(
        f"  cue floor {triage.cue_floor:.3f}; interrupt threshold "
        f"{triage.interrupt_threshold:.2f}: false alarms "
        f"{sure['false_alarm_rate']:.2%}, emergencies and crises sure {sure.get('sure', 0):.2%}"
    )

    for path in args.heldout:
        texts, features = report(triage, embedder, path)
    print("\ncost per turn (one message, median over the last held-out set)")
    detector = _median_ms(lambda i: triage.assess(texts[i], features[i]), len(texts))
    encoding = _median_ms(lambda i: embedder.features_one(texts[i]), len(texts))
    print(f"  triage on the turn's features  {detector:.3f} ms")
    print(f"  the turn's encoding (shared)   {encoding:.3f} ms")


def report(triage: Triage, embedder: Embedder, path: Path) -> tuple[list[str], np.ndarray]:
    """One held-out set's figures; its texts and features, for timing."""
    examples = load_examples(path)
    texts = [t for t, _ in examples]
    features = embedder.features(texts)
    alerts = [triage.assess(t, f) for t, f in zip(texts, features, strict=True)]
    gold = [outcome(k) for _, k in examples]
    said = [a.kind if a else NONE for a in alerts]
    alerting = [g != NONE for g in gold]
    hits = sum(1 for a, s in zip(alerting, said, strict=True) if a and s != NONE)
    false_alarms = sum(1 for a, s in zip(alerting, said, strict=True) if not a and s != NONE)
    n_alerting, n_ordinary = sum(alerting), len(alerting) - sum(alerting)
    print(f"\nheld-out ({path}): {len(examples)} messages")
    print(f"recall        {hits}/{n_alerting} = {hits / n_alerting:.2%}")
    print(f"false alarms  {false_alarms}/{n_ordinary} = {false_alarms / n_ordinary:.2%}")
    right_line = sum(1 for g, s in zip(gold, said, strict=True) if g != NONE and s == g)
    print(f"right line (911 or 988) {right_line}/{n_alerting}")
    print(f"by the backstop cues: {sum(1 for a in alerts if a and a.by_cue)}")
    sure_hits = sum(1 for a, x in zip(alerting, alerts, strict=True) if a and x and x.sure)
    sure_false = sum(1 for a, x in zip(alerting, alerts, strict=True) if not a and x and x.sure)
    print(
        f"sure (the turn interrupted): {sure_hits}/{n_alerting} emergencies and crises, "
        f"{sure_false}/{n_ordinary} = {sure_false / n_ordinary:.2%} of ordinary messages"
    )

    pairs = Counter(zip(gold, said, strict=True))
    print("\nconfusion (rows: truth, columns: detector)")
    print(f"{'':>10}" + "".join(f"{o:>10}" for o in OUTCOMES))
    for g in OUTCOMES:
        print(f"{g:>10}" + "".join(f"{pairs[(g, s)]:>10}" for s in OUTCOMES))

    print("\nper kind (alerting kinds: share detected; ordinary kinds: share that alerted)")
    for kind in dict.fromkeys(k for _, k in examples):
        rows = [s for (_, k), s in zip(examples, said, strict=True) if k == kind]
        fired = sum(1 for s in rows if s != NONE)
        print(f"  {kind:<15} {fired:>3}/{len(rows):<3} {fired / len(rows):7.1%}")
    for (text, kind), s in zip(examples, said, strict=True):
        if (outcome(kind) != NONE) != (s != NONE):
            print(f"  {'MISSED' if s == NONE else 'FALSE ALARM':<12} [{kind}] {text}")

    return texts, features


def _median_ms(run, n: int) -> float:
    times = []
    for _ in range(TIMING_ROUNDS):
        for i in range(n):
            started = time.perf_counter()
            run(i)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


if __name__ == "__main__":
    main()
