"""Latency of one text turn, in process and over the REST API on loopback.

Usage: ``python -m evaluation.benchmarks.latency [--turns 300]``. Prints p50/p95/p99 in
milliseconds and
messages per second for each path. Targets (issue 2): p95 < 15 ms in process, < 25 ms over REST.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bot.contract import InboundMessage
from bot.runtime import build_runtime
from bot.settings import Settings
from evaluation.benchmarks.server import hotline_server
from evaluation.qa.targets import RestTarget

TURNS = [
    "when is my bin collected",
    "how do I pay a parking ticket",
    "what time does city hall open",
    "there is a pothole on Elm Street that damaged my car",
    "1",
    "no",
    "cancel",
    "thanks",
    "how do I apply for housing",
    "what is the emergency number",
]


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": statistics.median(ordered), "p95": q[94], "p99": q[98]}


def report(name: str, samples: list[float], seconds: float) -> None:
    p = percentiles(samples)
    print(
        f"{name:<12} turns={len(samples):4d}  p50={p['p50']:6.2f} ms  p95={p['p95']:6.2f} ms  "
        f"p99={p['p99']:6.2f} ms  {len(samples) / seconds:7.1f} msg/s"
    )


def in_process(data_dir: Path, turns: int) -> None:
    runtime = build_runtime(Settings(_env_file=None, data_dir=data_dir))
    handle = runtime.assistant.handle
    for text in TURNS:  # warm-up
        handle(InboundMessage(channel="bench", sender="warm", text=text))
    samples: list[float] = []
    started = time.perf_counter()
    for i in range(turns):
        sender = f"s{i // len(TURNS)}"
        message = InboundMessage(channel="bench", sender=sender, text=TURNS[i % len(TURNS)])
        t0 = time.perf_counter()
        handle(message)
        samples.append((time.perf_counter() - t0) * 1000)
    report("in process", samples, time.perf_counter() - started)


def over_rest(data_dir: Path, turns: int) -> None:
    with (
        hotline_server({"HOTLINE_DATA_DIR": str(data_dir)}, timeout=300) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        target = RestTarget(url, client=client)  # web sessions: a cookie per resident
        run = uuid.uuid4().hex[:6]
        for text in TURNS:
            target.send({"sender": f"warm{run}", "text": text})
        samples: list[float] = []
        started = time.perf_counter()
        for i in range(turns):
            body = {"sender": f"r{run}{i // len(TURNS)}", "text": TURNS[i % len(TURNS)]}
            t0 = time.perf_counter()
            target.send(body)
            samples.append((time.perf_counter() - t0) * 1000)
        report("over REST", samples, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        in_process(Path(tmp), args.turns)  # also seeds and trains the data dir the server reuses
        over_rest(Path(tmp), args.turns)


if __name__ == "__main__":
    main()
