"""Timings of the staff console's heavier parts on the demo runtime (a fresh temporary data
dir): 'What would the bot say?' per question, grouping 500 unanswered questions by meaning
(first look, then with their embeddings cached), and the dashboard's SQL.

Usage: ``python -m evaluation.benchmarks.staff_console_bench``
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from bot.runtime import build_runtime
from bot.settings import Settings
from channels.staff import stats, unanswered
from channels.staff.preview import preview

QUESTIONS = [
    "What is the emergency number?",
    "when is bulky waste collected",
    "can my llama come to the opera",
    "I want to talk to a person",
]
TOPICS = [
    "bins",
    "parking",
    "library",
    "pool",
    "boat",
    "bees",
    "tree",
    "dog",
    "permit",
    "noise",
    "tax",
    "school",
    "park",
    "bus",
]


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as directory:
        runtime = build_runtime(Settings(_env_file=None, data_dir=Path(directory)))
        preview(runtime, "warm up")
        times = []
        for question in QUESTIONS * 10:
            start = time.perf_counter()
            preview(runtime, question)
            times.append(_ms(start))
        times.sort()
        p95 = times[int(0.95 * len(times)) - 1]
        p50 = statistics.median(times)
        print(f"preview: {len(times)} questions, p50 {p50:.0f} ms, p95 {p95:.0f} ms")
        for i in range(500):
            first, second = TOPICS[i % len(TOPICS)], TOPICS[(i * 7) % len(TOPICS)]
            runtime.knowledge.record_unanswered(
                f"question {i} about {first} and {second}", "en", "web"
            )
        start = time.perf_counter()
        unanswered.groups(runtime)
        print(f"unanswered: 500 questions grouped in {_ms(start):.0f} ms (first look)")
        start = time.perf_counter()
        unanswered.groups(runtime)
        print(f"unanswered: again in {_ms(start):.0f} ms (embeddings cached)")
        with runtime.db.sessions() as session:
            start = time.perf_counter()
            stats.dashboard(session)
            print(f"dashboard SQL: {_ms(start):.0f} ms")
        runtime.db.engine.dispose()


if __name__ == "__main__":
    main()
