"""Rasa 3.6 (DIET, its default pipeline) and our engine, side by side, from one run.

    .venv/bin/python -m evaluation.benchmarks.rasa_side_by_side.run \
        [--clinc-intents 30] [--keep DIR]

With ``--keep DIR`` models and logs stay there, and a later run on identical data and config
reuses the Rasa model and its recorded training time (Rasa takes minutes to train).

Rasa 3.6 needs Python 3.10 and pins (pydantic 1.10, SQLAlchemy 1.4, numpy 1.23) that cannot
share our environment, so the script makes its own venv (pyenv's 3.10.13; about 5 minutes
and 2.2 GB the first time; HOTLINE_RASA_VENV moves it) and installs rasa 3.6.21 there.

For each data set (our NLU data; RasaHQ's financial-demo, whose 258 entity annotations on 5
entities measure learned entities; a CLINC150 subset; the last two read from the data sets'
folder, HOTLINE_DATASETS_DIR, at run time) it splits train/test the same way for both, then:
- trains Rasa (``python -m rasa train nlu`` with config.yml beside this file) and ours (in a
  subprocess, serve_ours.py), timing each from process start to saved model;
- serves each as its own process answering Rasa's ``POST /model/parse``, and parses every
  test text over HTTP from this process: intent accuracy, macro F1 over in-scope intents,
  entity F1 (micro, over the annotated entity kinds; kind, role and span must match),
  out-of-scope recall (Rasa: nlu_fallback or out_of_scope; ours: no intent or
  out_of_scope), latency p50/p95, and the server's resident memory (RSS) after the run;
- plays the same test texts through bot.nlu.rasa_engine.RasaEngine (what
  HOTLINE_NLU_ENGINE=rasa uses) against the Rasa server and reports its agreement with Rasa.

Prints one table. Not part of .ci/run (minutes of training and a 2.2 GB install).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from evaluation.benchmarks.datasets import dataset
from evaluation.benchmarks.server import free_port, stop_process
from evaluation.qa.rasa_stories import strip_annotations

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
CLINC = dataset("clinc150", "data_full.json")
FINANCIAL_DEMO = dataset("rasa_financial_demo", "data", "nlu")
_SLUG = re.compile(r"[^a-z0-9]+")
PYTHON310 = Path("/root/.pyenv/versions/3.10.13/bin/python")
RASA_VERSION = "3.6.21"
OOS = "out_of_scope"
RASA_OOS = {OOS, "nlu_fallback"}
SEED = 13


def rasa_venv() -> Path:
    return Path(os.environ.get("HOTLINE_RASA_VENV", Path.home() / ".cache/hotline/rasa-venv"))


def ensure_rasa() -> Path:
    """The venv's python with rasa importable, installing it the first time."""
    venv = rasa_venv()
    python = venv / "bin" / "python"
    if python.exists() and _has_rasa(python):
        return python
    base = Path(os.environ.get("HOTLINE_PYTHON310", PYTHON310))
    if not base.exists():
        raise SystemExit(f"Python 3.10 not found at {base} (set HOTLINE_PYTHON310)")
    print(f"installing rasa {RASA_VERSION} into {venv} (several minutes, about 2.2 GB)")
    subprocess.run([str(base), "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"rasa=={RASA_VERSION}"], check=True)
    if not _has_rasa(python):
        raise SystemExit("rasa did not install")
    return python


def _has_rasa(python: Path) -> bool:
    probe = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('rasa'))"],
        capture_output=True,
        text=True,
    )
    return probe.returncode == 0 and probe.stdout.strip() == RASA_VERSION


@dataclass
class Split:
    name: str
    train_file: Path
    test: list[tuple[str, str]]  # (plain text, gold intent)
    entities: list[set[Span]] = field(default_factory=list)  # gold, per test text

    @property
    def entity_names(self) -> set[str]:
        return {span[0] for spans in self.entities for span in spans}


Span = tuple[str, str | None, int, int]  # entity, role, start, end


def _nlu_items(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"])


def _examples(block: str) -> list[str]:
    return [line.strip()[2:] for line in block.splitlines() if line.strip().startswith("- ")]


def _write_nlu(path: Path, intents: dict[str, list[str]], extra: list[dict[str, Any]]) -> None:
    lines = ['version: "3.1"', "nlu:"]
    for intent, examples in intents.items():
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {e}" for e in examples]
    text = "\n".join(lines) + "\n"
    if extra:
        text += yaml.safe_dump(extra, sort_keys=False, allow_unicode=True, width=10**6)
    path.write_text(text, encoding="utf-8")


def split_nlu(name: str, files: list[Path], work: Path, test_share: float = 0.2) -> Split:
    """NLU data, stratified: a fifth of each intent's examples held out, with their entities
    (the annotations, roles included) as the gold for entity F1."""
    rng = random.Random(SEED)
    train: dict[str, list[str]] = defaultdict(list)
    test: list[tuple[str, str]] = []
    entities: list[set[Span]] = []
    extra = []
    for item in (i for f in files for i in _nlu_items(f)):
        if "intent" not in item:
            extra.append({k: (v if k != "examples" else _Literal(v)) for k, v in item.items()})
            continue
        examples = _examples(item["examples"])
        rng.shuffle(examples)
        held = int(len(examples) * test_share) if len(examples) >= 5 else 0
        for example in examples[:held]:
            text, marked = strip_annotations(example)
            test.append((text, item["intent"]))
            entities.append({(e.entity, e.role, e.start, e.end) for e in marked})
        train[item["intent"]] += examples[held:]
    path = work / f"{_SLUG.sub('_', name.lower())}_train.yml"
    _write_nlu(path, dict(train), extra)
    return Split(name, path, test, entities)


def split_clinc(work: Path, intents: int) -> Split:
    """A CLINC150 subset: `intents` in-scope intents chosen with a fixed seed, all their
    training examples plus oos_train as out_of_scope; tested on their test examples and all
    of oos_test."""
    data = json.loads(CLINC.read_text(encoding="utf-8"))
    names = sorted({label for _, label in data["train"]})
    chosen = set(random.Random(SEED).sample(names, min(intents, len(names))))
    train: dict[str, list[str]] = defaultdict(list)
    for text, label in data["train"]:
        if label in chosen:
            train[label].append(_escape(text))
    train[OOS] = [_escape(text) for text, _ in data["oos_train"]]
    test = [(t, label) for t, label in data["test"] if label in chosen]
    test += [(t, OOS) for t, _ in data["oos_test"]]
    path = work / "clinc_train.yml"
    _write_nlu(path, dict(train), [])
    return Split(f"CLINC150 ({len(chosen)} intents + oos)", path, test)


def _escape(text: str) -> str:
    """Plain text as a Rasa example: brackets would read as entity markup."""
    return text.replace("[", "(").replace("]", ")")


class _Literal(str):
    pass


yaml.SafeDumper.add_representer(
    _Literal, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", str(v), style="|")
)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, from /proc."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


@dataclass
class Measured:
    system: str
    train_seconds: float
    predictions: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    entities: list[set[Span]] = field(default_factory=list)
    rss_mb: float = 0.0


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server at {url} exited with {process.returncode}")
        try:
            response = httpx.post(f"{url}/model/parse", json={"text": "hello"}, timeout=5)
            if response.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit(f"server at {url} not ready after {timeout:.0f} s")


def parse_all(url: str, texts: list[str], oos_names: set[str], m: Measured) -> None:
    """Intents, entities and latency of every text, over Rasa's own HTTP API."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for text in texts[:20]:  # warm-up: first calls build graphs and caches
            client.post("/model/parse", json={"text": text})
        for text in texts:
            started = time.perf_counter()
            response = client.post("/model/parse", json={"text": text})
            m.latencies_ms.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            body = response.json()
            name = (body.get("intent") or {}).get("name")
            m.predictions.append(OOS if name is None or name in oos_names else name)
            m.entities.append(
                {
                    (str(e["entity"]), e.get("role"), int(e["start"]), int(e["end"]))
                    for e in body.get("entities") or []
                }
            )


def serve(command: list[str], url: str, log: Path, env: dict[str, str] | None = None):
    handle = log.open("w")
    process = subprocess.Popen(
        command, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    try:
        wait_ready(url, process)
    except BaseException:
        stop_process(process)
        raise
    return process


def run_rasa(python: Path, split: Split, work: Path) -> tuple[Measured, str, subprocess.Popen]:
    """Train (or reuse a model trained on identical data and config in ``work``) and serve."""
    models = work / "rasa_models"
    digest = hashlib.sha256(
        split.train_file.read_bytes() + (HERE / "config.yml").read_bytes()
    ).hexdigest()[:12]
    name = f"{split.train_file.stem}-{digest}"
    stamp = models / f"{name}.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
    if stamp.exists():
        seconds = json.loads(stamp.read_text())["train_seconds"]
        print(f"reusing the Rasa model {name} (trained in {seconds:.0f} s)", flush=True)
    else:
        started = time.perf_counter()
        with (work / f"rasa_train_{name}.log").open("w") as log:
            subprocess.run(
                [
                    str(python),
                    "-m",
                    "rasa",
                    "train",
                    "nlu",
                    "--config",
                    str(HERE / "config.yml"),
                    "--nlu",
                    str(split.train_file),
                    "--out",
                    str(models),
                    "--fixed-model-name",
                    name,
                ],
                check=True,
                cwd=work,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        seconds = time.perf_counter() - started
        stamp.write_text(json.dumps({"train_seconds": seconds}))
    measured = Measured("Rasa 3.6 DIET", seconds)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = serve(
        [
            str(python),
            "-m",
            "rasa",
            "run",
            "--enable-api",
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "--model",
            str(models / f"{name}.tar.gz"),
        ],
        url,
        work / f"rasa_serve_{name}.log",
        env,
    )
    return measured, url, process


def run_ours(split: Split, work: Path) -> tuple[Measured, str, subprocess.Popen]:
    model = work / f"ours_{split.train_file.stem}"
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "evaluation.benchmarks.rasa_side_by_side.serve_ours",
            "train",
            str(split.train_file),
            str(model),
        ],
        check=True,
        cwd=ROOT,
    )
    measured = Measured("hotline (ours)", time.perf_counter() - started)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = serve(
        [
            sys.executable,
            "-m",
            "evaluation.benchmarks.rasa_side_by_side.serve_ours",
            "serve",
            str(split.train_file),
            str(model),
            "--port",
            str(port),
        ],
        url,
        work / f"ours_serve_{split.train_file.stem}.log",
    )
    return measured, url, process


def scores(gold: list[str], predicted: list[str]) -> dict[str, float]:
    from sklearn.metrics import f1_score

    in_scope = sorted({g for g in gold if g != OOS})
    oos = [p == OOS for g, p in zip(gold, predicted, strict=True) if g == OOS]
    return {
        "accuracy": sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold),
        "macro_f1": f1_score(gold, predicted, labels=in_scope, average="macro", zero_division=0),
        "oos_recall": sum(oos) / len(oos) if oos else float("nan"),
    }


def entity_f1(gold: list[set[Span]], predicted: list[set[Span]], names: set[str]) -> float:
    """Micro F1 over the annotated entity kinds: kind, role and span must match."""
    got = [{s for s in spans if s[0] in names} for spans in predicted]
    tp = sum(len(g & p) for g, p in zip(gold, got, strict=True))
    n_gold, n_got = sum(map(len, gold)), sum(map(len, got))
    return 2 * tp / (n_gold + n_got) if n_gold + n_got else float("nan")


def rasa_engine_agreement(url: str, texts: list[str], direct: list[str]) -> float:
    """Our RasaEngine (HOTLINE_NLU_ENGINE=rasa) on the same texts: share agreeing with Rasa."""
    from bot.nlu import build_engine

    engine = build_engine("rasa", None, None, rasa_url=url)
    agree = 0
    for text, expected in zip(texts, direct, strict=True):
        result = engine.parse(text)
        name = result.intent if result.intent not in RASA_OOS else None
        agree += (name or OOS) == expected
    return agree / len(texts)


def percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(sorted(samples), n=100, method="inclusive")[q - 1]


def evaluate(python: Path, split: Split, work: Path) -> list[dict[str, Any]]:
    texts = [t for t, _ in split.test]
    gold = [g for _, g in split.test]
    rows = []
    print(
        f"\n== {split.name}: {len(split.train_file.read_text().splitlines())} training lines, "
        f"{len(texts)} test texts ({gold.count(OOS)} out of scope)",
        flush=True,
    )
    measured, url, process = run_rasa(python, split, work)
    try:
        parse_all(url, texts, RASA_OOS, measured)
        measured.rss_mb = rss_mb(process.pid)
        agreement = rasa_engine_agreement(url, texts, measured.predictions)
    finally:
        stop_process(process)
    rows.append(_row(split, measured, gold, f"RasaEngine agrees on {agreement:.1%}"))
    measured, url, process = run_ours(split, work)
    try:
        parse_all(url, texts, {OOS}, measured)
        measured.rss_mb = rss_mb(process.pid)
    finally:
        stop_process(process)
    rows.append(_row(split, measured, gold, ""))
    return rows


def _row(split: Split, m: Measured, gold: list[str], note: str) -> dict[str, Any]:
    return {
        "data": split.name,
        "system": m.system,
        **scores(gold, m.predictions),
        "entity_f1": entity_f1(split.entities, m.entities, split.entity_names),
        "train_s": m.train_seconds,
        "p50_ms": statistics.median(m.latencies_ms),
        "p95_ms": percentile(m.latencies_ms, 95),
        "rss_mb": m.rss_mb,
        "note": note,
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| data | system | intent accuracy | macro F1 | OOS recall | entity F1 | training (s) | "
        "parse p50 (ms) | parse p95 (ms) | RSS (MB) |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        lines.append(
            f"| {r['data']} | {r['system']} | {r['accuracy']:.1%} | {r['macro_f1']:.3f} | "
            f"{r['oos_recall']:.1%} | {r['entity_f1']:.3f} | {r['train_s']:.1f} | "
            f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clinc-intents", type=int, default=30)
    parser.add_argument(
        "--sets",
        default="ours,financial,clinc",
        help="comma-separated data sets to compare (ours, financial, clinc)",
    )
    parser.add_argument("--keep", type=Path, help="keep models and logs in this directory")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    python = ensure_rasa()
    work = args.keep or Path(tempfile.mkdtemp(prefix="rasa-side-by-side-"))
    work.mkdir(parents=True, exist_ok=True)
    from bot.catalogue import DATA

    wanted = set(args.sets.split(","))
    splits = []
    if "ours" in wanted:
        splits.append(split_nlu("hotline NLU data", [DATA / "nlu.yml"], work))
    if "financial" in wanted and FINANCIAL_DEMO.exists():
        files = sorted(FINANCIAL_DEMO.glob("*.yml"))
        splits.append(split_nlu("financial-demo (Rasa)", files, work))
    elif "financial" in wanted:
        print(f"financial-demo not found at {FINANCIAL_DEMO}: no learned-entity comparison")
    if "clinc" in wanted and CLINC.exists():
        splits.append(split_clinc(work, args.clinc_intents))
    elif "clinc" in wanted:
        print(f"CLINC150 not found at {CLINC}")
    rows = [row for split in splits for row in evaluate(python, split, work)]
    print()
    print(table(rows))
    for r in rows:
        if r["note"]:
            print(f"{r['data']}: {r['note']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
