"""Load benchmark: N residents at once through the REST API, one more through SMS webhooks.

    .venv/bin/python -m evaluation.benchmarks.load [--residents 20] [--conversations 5] [--out DIR]
                                        [--url URL]

Without ``--url`` it starts the server itself (uvicorn, one worker, on a scratch data dir on
127.0.0.1, with throwaway Twilio credentials so the SMS webhook accepts our signed forms,
and rate limits lifted: the benchmark measures the assistant, not the limiter). Each
resident plays scripted conversations (questions, a report filed end to end, a status
check) as fast as replies come back; one extra resident texts the same script through
POST /webhooks/twilio/sms. Bounded: residents x conversations x script turns, and
``--max-seconds``. Prints p50/p95/p99 latency and messages per second per path, writes
``load.png`` (latency over time and its distribution) and ``load.json`` to ``--out``.

Only loopback or the given URL is ever contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from evaluation.benchmarks.server import LOOPBACK, free_port, hotline_server
from evaluation.qa.targets import RestTarget

SCRIPT = [
    "hello",
    "when is my bin collected",
    "how do I pay a parking ticket",
    "there is a pothole on Elm Street that burst my tyre",
    "1",
    "yes",
    "what happened to my report",
    "what time does city hall open",
    "thanks",
    "bye",
]


@dataclass
class Samples:
    name: str
    at: list[float] = field(default_factory=list)  # seconds since start, when sent
    ms: list[float] = field(default_factory=list)
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self) -> None:
        with self.lock:
            self.errors += 1

    def add(self, at: float, ms: float) -> None:
        with self.lock:
            self.at.append(at)
            self.ms.append(ms)

    def figures(self, seconds: float) -> dict[str, float]:
        if len(self.ms) < 2:
            return {"messages": len(self.ms), "errors": self.errors}
        q = statistics.quantiles(sorted(self.ms), n=100, method="inclusive")
        return {
            "messages": len(self.ms),
            "errors": self.errors,
            "p50_ms": statistics.median(self.ms),
            "p95_ms": q[94],
            "p99_ms": q[98],
            "msg_per_s": len(self.ms) / seconds,
        }


def server_env(data_dir: Path, twilio: tuple[str, str], url: str) -> dict[str, str]:
    """Throwaway Twilio credentials so the SMS webhook accepts our signed forms; no limits."""
    return {
        "HOTLINE_DATA_DIR": str(data_dir),
        "HOTLINE_TWILIO_ACCOUNT_SID": twilio[0],
        "HOTLINE_TWILIO_AUTH_TOKEN": twilio[1],
        "HOTLINE_PUBLIC_URL": url,
        "HOTLINE_RATE_LIMIT_SENDER": "100000/minute",
        "HOTLINE_RATE_LIMIT_CHANNEL": "1000000/minute",
    }


def rest_resident(url: str, rounds: int, samples: Samples, t0: float, stop_at: float) -> None:
    """Web chat residents, one after another: each round a new web session (its cookie)."""
    with httpx.Client(base_url=url, timeout=60) as client:
        target = RestTarget(url, client=client)
        for _ in range(rounds):
            sender = f"load-{uuid.uuid4().hex[:10]}"
            for text in SCRIPT:
                if time.monotonic() > stop_at:
                    return
                started = time.perf_counter()
                try:
                    target.send({"sender": sender, "text": text})
                except RuntimeError:
                    samples.error()
                    continue
                samples.add(started - t0, (time.perf_counter() - started) * 1000)


def sms_resident(
    url: str, twilio: tuple[str, str], rounds: int, samples: Samples, t0: float, stop_at: float
) -> None:
    from evaluation.qa.channel_targets import SmsTarget

    with httpx.Client(base_url=url, timeout=60) as client:
        target = SmsTarget(client, twilio[1], twilio[0], url)
        for _ in range(rounds):
            phone = SmsTarget.phone(uuid.uuid4().hex)
            for text in SCRIPT:
                if time.monotonic() > stop_at:
                    return
                started = time.perf_counter()
                try:
                    target.text(phone, text)
                except httpx.HTTPError:
                    samples.error()
                    continue
                samples.add(started - t0, (time.perf_counter() - started) * 1000)


def plot(series: list[Samples], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (over_time, spread) = plt.subplots(1, 2, figsize=(11, 4))
    for s in series:
        if s.ms:
            over_time.scatter(s.at, s.ms, s=6, alpha=0.5, label=s.name)
            spread.hist(s.ms, bins=40, alpha=0.6, label=s.name)
    over_time.set_xlabel("seconds into the run")
    over_time.set_ylabel("latency (ms)")
    over_time.legend()
    spread.set_xlabel("latency (ms)")
    spread.set_ylabel("messages")
    spread.legend()
    fig.tight_layout()
    path = out / "load.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(
    url: str | None,
    residents: int,
    conversations: int,
    max_seconds: float,
    out: Path,
    sms: bool = True,
) -> dict[str, Any]:
    twilio = ("AC" + secrets.token_hex(16), secrets.token_hex(16))
    with ExitStack() as stack:
        if url is None:
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="hotline-load-"))
            port = free_port()
            env = server_env(Path(scratch), twilio, f"http://{LOOPBACK}:{port}")
            url = stack.enter_context(hotline_server(env, port=port))
        elif sms:
            sid, token = (
                os.environ.get("HOTLINE_TWILIO_ACCOUNT_SID"),
                os.environ.get("HOTLINE_TWILIO_AUTH_TOKEN"),
            )
            sms = bool(sid and token)
            twilio = (sid or "", token or "")
        rest_resident(url, 1, Samples("warm-up"), time.perf_counter(), time.monotonic() + 120)
        rest = Samples(f"REST x{residents}")
        texting = Samples("SMS x1")
        t0 = time.perf_counter()
        stop_at = time.monotonic() + max_seconds
        threads = [
            threading.Thread(target=rest_resident, args=(url, conversations, rest, t0, stop_at))
            for _ in range(residents)
        ]
        if sms:
            threads.append(
                threading.Thread(
                    target=sms_resident, args=(url, twilio, conversations, texting, t0, stop_at)
                )
            )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    series = [rest, texting] if sms else [rest]
    figures = {
        "residents": residents,
        "conversations_each": conversations,
        "seconds": seconds,
        "cpus": os.cpu_count(),
        **{s.name: s.figures(seconds) for s in series},
    }
    (out / "load.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    figures["plot"] = str(plot(series, out))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (else one is started on loopback)")
    parser.add_argument("--residents", type=int, default=20)
    parser.add_argument("--conversations", type=int, default=5, help="per resident")
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--no-sms", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("reports/load"))
    args = parser.parse_args()
    figures = run(
        args.url,
        args.residents,
        args.conversations,
        args.max_seconds,
        args.out,
        sms=not args.no_sms,
    )
    print(
        f"{figures['residents']} REST residents + SMS, {figures['seconds']:.1f} s, "
        f"{figures['cpus']} CPUs"
    )
    for name, f in figures.items():
        if isinstance(f, dict) and "p50_ms" in f:
            print(
                f"{name:<10} {f['messages']:5d} msgs  errors {f['errors']}  "
                f"p50 {f['p50_ms']:7.1f} ms  p95 {f['p95_ms']:7.1f} ms  "
                f"p99 {f['p99_ms']:7.1f} ms  {f['msg_per_s']:6.1f} msg/s"
            )
    print(f"plot: {figures['plot']}")


if __name__ == "__main__":
    main()
