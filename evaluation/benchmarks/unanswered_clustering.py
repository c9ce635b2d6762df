"""How well the console groups unanswered questions by meaning, across distance thresholds.

Prints, for a hand-written set of resident questions in 8 groups of one meaning (none of them
answered by the demo knowledge base), the cosine distances within and between groups and the
adjusted Rand index of the console's clustering at each threshold.

Usage: ``python -m evaluation.benchmarks.unanswered_clustering``
"""

from __future__ import annotations

import itertools

import numpy as np
from sklearn.metrics import adjusted_rand_score

from channels.staff.unanswered import DISTANCE_THRESHOLD, cluster
from knowledge.embedder import load_embedder

GROUPS = [
    [
        "Can I rent a rowing boat on Lake Alder?",
        "where do I hire a rowing boat on lake alder",
        "Is there rowing boat hire at Lake Alder?",
        "rowing boats for rent at the lake?",
    ],
    [
        "How do I register a beehive in my garden?",
        "do I need a permit to keep bees",
        "beekeeping rules in the city",
    ],
    [
        "when is the christmas tree collected",
        "christmas tree pickup date",
        "what do I do with my old xmas tree",
    ],
    [
        "can I bring my dog to the beach",
        "are dogs allowed on the beach",
        "dog rules at the beach",
    ],
    [
        "where can I recycle batteries",
        "battery recycling drop off",
        "how to dispose of old batteries",
    ],
    [
        "is the swimming pool open on sunday",
        "pool opening hours weekend",
        "sunday hours of the city pool",
    ],
    [
        "how do I get a parking permit for my street",
        "resident parking permit application",
        "apply for residential parking",
    ],
    [
        "my neighbour's tree hangs over my fence",
        "overhanging branches from next door",
        "who cuts a tree that crosses the fence",
    ],
]
THRESHOLDS = (0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8)


def main() -> None:
    texts = [text for group in GROUPS for text in group]
    truth = [number for number, group in enumerate(GROUPS) for _ in group]
    vectors = load_embedder().encode(texts)
    similarity = vectors @ vectors.T
    pairs = list(itertools.combinations(range(len(texts)), 2))
    same = [1 - similarity[i, j] for i, j in pairs if truth[i] == truth[j]]
    other = [1 - similarity[i, j] for i, j in pairs if truth[i] != truth[j]]
    print(f"{len(texts)} questions in {len(GROUPS)} groups of one meaning")
    for name, values in (("same meaning", same), ("different", other)):
        print(
            f"cosine distance, {name:12}: min {min(values):.2f}  median {np.median(values):.2f}"
            f"  max {max(values):.2f}"
        )
    print("threshold  groups  adjusted Rand index")
    for threshold in THRESHOLDS:
        labels = cluster(vectors, threshold)
        score = adjusted_rand_score(truth, labels)
        mark = "  <- the console's" if threshold == DISTANCE_THRESHOLD else ""
        print(f"{threshold:9.2f}  {len(set(labels)):6d}  {score:.3f}{mark}")


if __name__ == "__main__":
    main()
