"""Scripted residents over the REST API: each reports a problem and answers whatever the
assistant asks in their own words, never with a button title.

`python -m evaluation.benchmarks.scripted_residents [--url URL] [--residents 30]
[--seed 12]` starts a
server on a fresh data dir (or uses URL), plays each resident with its own HTTP client and
cookie jar, and prints the completion rate, how many were filed with the right type, and the
mean turns per filed report. The answer pools are evaluation/data/scripted_residents.yml; a
resident tells what the assistant asked from its words, as a person would, and answers from
the pool for that kind of question (another answer from it when not understood); some
first answer the updates question with more details of the problem, as people do.
Target (issue 12): every report filed, with the right type, in at most 6 turns on average.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import yaml

from bot.catalogue import Catalogue
from evaluation import DATA
from evaluation.benchmarks.server import hotline_server

RESIDENTS = DATA / "scripted_residents.yml"
MAX_TURNS = 12
SEED = 12
CHATTY = 0.3  # residents who answer "how should we tell you" with more details first
KINDS = [  # what the assistant asked, from its words (the last message), first match wins
    ("drop", re.compile(r"drop this report", re.I)),
    ("which_place", re.compile(r"^is it .+ or .+\?", re.I)),
    ("confirm", re.compile(r"shall i send", re.I)),
    ("service", re.compile(r"what kind of problem|what the problem is", re.I)),
    ("place", re.compile(r"where is the|couldn't find|street name", re.I)),
    ("phone", re.compile(r"phone number", re.I)),
    ("contact", re.compile(r"tell you about progress", re.I)),
    ("description", re.compile(r"describe the problem|a little more about", re.I)),
]


@dataclass
class Resident:
    service: str
    script: dict[str, Any]
    rng: random.Random
    used: dict[str, list[str]] = field(default_factory=dict)

    def say(self, kind: str, pool: list[str]) -> str:
        """An answer from the pool not yet tried for this kind of question."""
        tried = self.used.setdefault(kind, [])
        fresh = [a for a in pool if a not in tried] or pool
        answer = self.rng.choice(fresh)
        tried.append(answer)
        return str(answer)


@dataclass
class Outcome:
    service: str
    filed: bool
    right_type: bool
    turns: int
    transcript: list[tuple[str, str]]


def field_prompts(catalogue: Catalogue) -> dict[str, str]:
    """Each form field's prompt -> its name, to tell which of a type's questions was asked."""
    return {f.prompt: f.name for s in catalogue.services for f in s.fields}


def kind_of(text: str, prompts: dict[str, str]) -> str:
    last = text.strip().split("\n\n")[-1]
    for prompt, name in prompts.items():
        if prompt in last:
            return f"field:{name}"
    return next((kind for kind, pattern in KINDS if pattern.search(last)), "other")


def answer(resident: Resident, kind: str, answers: dict[str, list[str]]) -> str:
    script = resident.script
    if kind == "contact" and "chatty" not in resident.used and resident.rng.random() < CHATTY:
        resident.used["chatty"] = []  # tells more about the problem before answering
        return resident.say("extra", script["descriptions"])
    if kind.startswith("field:"):
        name = kind.removeprefix("field:")
        return resident.say(kind, script["fields"].get(name) or answers["other"])
    pools = {
        "service": script["kind"],
        "place": script["places"],
        "description": script["descriptions"],
    }
    return resident.say(kind, pools.get(kind) or answers.get(kind) or answers["other"])


def play(base: str, resident: Resident, answers: dict[str, list[str]], prompts: dict[str, str]):
    transcript: list[tuple[str, str]] = []
    sender = f"scripted-{uuid.uuid4().hex}"
    with httpx.Client(base_url=base, timeout=30) as client:  # one cookie jar per resident

        def send(text: str) -> dict[str, Any]:
            response = client.post(
                "/api/v1/messages",
                json={"channel": "web", "sender": sender, "text": text},
            )
            response.raise_for_status()
            reply = response.json()
            transcript.append((text, "\n\n".join(m["text"] for m in reply["messages"])))
            return reply

        reply = send(resident.say("opening", resident.script["openings"]))
        turns = 1
        while not reply.get("filed_reference") and turns < MAX_TURNS:
            kind = kind_of(transcript[-1][1], prompts)
            reply = send(answer(resident, kind, answers))
            turns += 1
        reference = reply.get("filed_reference")
        right = False
        if reference:
            status = client.get(f"/api/v1/requests/{reference}")
            right = status.status_code == 200 and status.json()["service_code"] == resident.service
    return Outcome(resident.service, bool(reference), right, turns, transcript)


def run(base: str, count: int, seed: int) -> dict[str, Any]:
    data = yaml.safe_load(RESIDENTS.read_text(encoding="utf-8"))
    prompts = field_prompts(Catalogue.load())
    rng = random.Random(seed)
    services = list(data["services"])
    outcomes = []
    for number in range(count):
        service = services[number % len(services)]
        resident = Resident(service, data["services"][service], random.Random(rng.random()))
        outcomes.append(play(base, resident, data["answers"], prompts))
    filed = [o for o in outcomes if o.filed]
    return {
        "residents": len(outcomes),
        "completion": len(filed) / len(outcomes),
        "right_type": sum(o.right_type for o in outcomes) / len(outcomes),
        "mean_turns_per_report": sum(o.turns for o in filed) / len(filed) if filed else None,
        "max_turns": max((o.turns for o in filed), default=None),
        "failed": [
            {"service": o.service, "right_type": o.right_type, "transcript": o.transcript}
            for o in outcomes
            if not o.right_type
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server; default: start one on a fresh data dir")
    parser.add_argument("--residents", type=int, default=30)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--show-failures", action="store_true")
    args = parser.parse_args()
    with ExitStack() as stack:
        base = args.url
        if base is None:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="residents-"))
            base = stack.enter_context(hotline_server({"HOTLINE_DATA_DIR": data_dir}, timeout=600))
        summary = run(base, args.residents, args.seed)
    failed = summary.pop("failed")
    print(json.dumps(summary))
    if args.show_failures:
        for item in failed:
            print(f"-- {item['service']} (right type: {item['right_type']})")
            for sent, replied in item["transcript"]:
                print(f"   > {sent}\n     {replied}")


if __name__ == "__main__":
    main()
