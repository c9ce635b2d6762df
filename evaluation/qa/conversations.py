"""Conversation tests in YAML: load a suite, play it against a target, check every turn.

A file holds ``conversations:``, each with a ``name`` and ``steps``. A step sends one thing
(``user`` text, ``dtmf`` digits, a ``location`` pin), moves the clock (``advance: 45m``) or
switches to a new resident (``fresh_sender: true``), and may ``expect`` what the reply must
show. Rasa test stories (a top-level ``stories:``) are read too, through
evaluation.qa.rasa_stories. docs/testing.md describes every key.

One runner plays every suite against every target: the assistant in this process, a server
over REST (evaluation.qa.targets) or a channel's webhook (evaluation.qa.channel_targets).
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import yaml

from bot.contract import Reply

SEND_KEYS = ("user", "dtmf", "location")
CONTROL_KEYS = ("advance", "fresh_sender")
EXPECT_KEYS = {
    "intent",
    "entities",
    "text_contains",
    "text_not_contains",
    "text_matches",
    "choices",
    "filed",
    "not_filed",
    "handoff",
    "ends",
    "source",
    "save",
}
STEP_KEYS = {*SEND_KEYS, *CONTROL_KEYS, "expect"}
_VAR = re.compile(r"\$\{(\w+)\}")
_DURATION = re.compile(r"^(\d+)\s*([smhd])$")


class _Loader(yaml.SafeLoader):
    """YAML where only true/false are booleans: `user: yes` sends the text "yes"."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def read_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # a SafeLoader: builds no Python objects


class SuiteError(ValueError):
    """A test file that cannot be run, with where and why."""


class Unsupported(Exception):
    """A step this target cannot play (a clock move over REST): the conversation is skipped."""


class MovableClock:
    """Real time plus an offset the tests can move forward (session expiry)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, by: timedelta) -> None:
        self.offset += by


class Target(Protocol):
    """Where a conversation is played: in process, over REST, or through a channel.

    A target may also carry ``unobservable``: the expectation keys it cannot see (a
    channel shows no intent), which are reported as unchecked instead of failing; and
    ``filed`` may return only some fields of a request (REST shows the public ones), in
    which case ``filed_fields`` names them.
    """

    def send(self, message: dict[str, Any]) -> Reply: ...

    def filed(self, reference: str) -> dict[str, Any] | None: ...

    def advance(self, by: timedelta) -> None: ...


@dataclass
class Conversation:
    name: str
    file: Path
    steps: list[dict[str, Any]]
    channel: str = "test"
    skipped_steps: list[str] = field(default_factory=list)  # what an import could not map

    @property
    def moves_clock(self) -> bool:
        """A clock move is seen by every conversation in flight: play these alone."""
        return any("advance" in step for step in self.steps)

    @property
    def key(self) -> str:
        return f"{self.file.stem}:{self.name}"


@dataclass
class StepResult:
    index: int
    sent: str
    reply: str
    expected: dict[str, Any]
    failures: list[str] = field(default_factory=list)
    intent: str | None = None
    got: dict[str, Any] = field(default_factory=dict)  # what the reply showed, for reports
    unchecked: list[str] = field(default_factory=list)  # expectations this target can't see


@dataclass
class ConversationResult:
    conversation: Conversation
    steps: list[StepResult]
    error: str | None = None
    seconds: float = 0.0
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        return self.skipped is None and self.error is None and not self.failed_step

    @property
    def failed_steps(self) -> list[StepResult]:
        return [s for s in self.steps if s.failures]

    @property
    def failed_step(self) -> StepResult | None:
        return next(iter(self.failed_steps), None)

    @property
    def status(self) -> str:
        if self.skipped is not None:
            return "skipped"
        return "passed" if self.passed else "failed"


def parse_duration(text: str | int) -> timedelta:
    if isinstance(text, int):
        return timedelta(seconds=text)
    match = _DURATION.match(str(text).strip())
    if not match:
        raise SuiteError(f"bad duration {text!r}; use e.g. 90s, 45m, 2h, 1d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})


def suite_files(path: Path) -> list[Path]:
    if not path.exists():
        raise SuiteError(f"{path}: no such file or directory")
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml"))
    return [path]


def _not_a_suite(raw: Any) -> str:
    """Why a YAML file holds no conversation tests, in words for the QA team."""
    if isinstance(raw, dict) and "nlu" in raw:
        return "Rasa NLU data (use `hotline evaluate nlu` for it)"
    if isinstance(raw, dict) and ({"test_cases", "e2e_tests"} & set(raw)):
        return "Rasa end-to-end test cases, which this runner does not play"
    return "no top-level 'conversations:' list (or Rasa 'stories:')"


def load_suite(
    *paths: Path,
    action_map: dict[str, dict[str, Any]] | None = None,
    skipped: list[str] | None = None,
) -> list[Conversation]:
    """Every conversation in the files, or in the .yml/.yaml files below the directories.

    A file with ``conversations:`` is ours; one with ``stories:`` is a Rasa test-story file
    (``action_map`` turns its actions into reply checks). Any other file is an error, or,
    when ``skipped`` is given, is listed there with the reason and passed over.
    """
    from evaluation.qa import rasa_stories

    conversations: list[Conversation] = []
    for file in (f for p in paths for f in suite_files(p)):
        try:
            raw = read_yaml(file.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise SuiteError(f"{file}: not valid YAML: {exc}") from exc
        if isinstance(raw, dict) and isinstance(raw.get("stories"), list):
            conversations += rasa_stories.conversations(file, raw["stories"], action_map)
            continue
        if not isinstance(raw, dict) or not isinstance(raw.get("conversations"), list):
            if skipped is None or (isinstance(raw, dict) and "conversations" in raw):
                raise SuiteError(
                    f"{file}: expected a top-level 'conversations:' list (or Rasa 'stories:')"
                )
            skipped.append(f"{file}: {_not_a_suite(raw)}")
            continue
        for number, item in enumerate(raw["conversations"], 1):
            conversations.append(_conversation(file, number, item))
    return conversations


def _conversation(file: Path, number: int, item: Any) -> Conversation:
    where = f"{file}: conversation {number}"
    if (
        not isinstance(item, dict)
        or not item.get("name")
        or not isinstance(item.get("steps"), list)
    ):
        raise SuiteError(f"{where}: needs a 'name' and a list of 'steps'")
    for index, step in enumerate(item["steps"], 1):
        validate_step(step, f"{where}, step {index}")
    return Conversation(str(item["name"]), file, item["steps"], item.get("channel", "test"))


def validate_step(step: Any, where: str) -> None:
    if not isinstance(step, dict):
        raise SuiteError(f"{where}: a step is a mapping")
    unknown_keys = set(step) - STEP_KEYS
    if unknown_keys:
        raise SuiteError(f"{where}: unknown key {sorted(unknown_keys)}")
    sends = [k for k in (*SEND_KEYS, *CONTROL_KEYS) if k in step]
    if len(sends) != 1:
        raise SuiteError(
            f"{where}: give exactly one of user, dtmf, location, advance, fresh_sender"
        )
    if "advance" in step:
        parse_duration(step["advance"])
    expect = step.get("expect") or {}
    if not isinstance(expect, dict):
        raise SuiteError(f"{where}: 'expect' is a mapping")
    if expect and sends[0] in CONTROL_KEYS:
        raise SuiteError(f"{where}: {sends[0]} sends nothing, so it cannot expect a reply")
    unknown = set(expect) - EXPECT_KEYS
    if unknown:
        raise SuiteError(f"{where}: unknown expectation {sorted(unknown)}")
    if "text_matches" in expect:
        try:
            re.compile(str(expect["text_matches"]))
        except re.error as exc:
            raise SuiteError(f"{where}: text_matches is not a valid regex: {exc}") from exc


def _substitute(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _VAR.sub(lambda m: variables.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [_substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, variables) for k, v in value.items()}
    return value


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def check(
    expect: dict[str, Any],
    reply: Reply,
    filed: Callable[[str], dict[str, Any] | None],
    unobservable: Iterable[str] = (),
    filed_fields: Iterable[str] | None = None,
) -> tuple[list[str], list[str]]:
    """What in this reply does not meet the step's expectations, and what could not be seen."""
    hidden = set(unobservable)
    unchecked = [f"{key} (not visible through this target)" for key in expect if key in hidden]
    expect = {k: v for k, v in expect.items() if k not in hidden}
    failures: list[str] = []
    text = reply.text.lower()
    if "intent" in expect and reply.intent not in _as_list(expect["intent"]):
        failures.append(f"intent: expected {expect['intent']}, got {reply.intent}")
    for name, wanted in (expect.get("entities") or {}).items():
        entity, _, role = str(name).partition("#")  # "city#destination": a role too
        values = [
            e.value.lower()
            for e in reply.entities
            if e.entity == entity and (not role or e.role == role)
        ]
        for value in _as_list(wanted):
            if str(value).lower() not in values:
                failures.append(f"entity {name}: expected {value!r}, got {values or 'none'}")
    for needle in _as_list(expect.get("text_contains") or []):
        if str(needle).lower() not in text:
            failures.append(f"text does not contain {needle!r}")
    for needle in _as_list(expect.get("text_not_contains") or []):
        if str(needle).lower() in text:
            failures.append(f"text contains {needle!r}")
    if "text_matches" in expect and not re.search(
        str(expect["text_matches"]), reply.text, re.I | re.S
    ):
        failures.append(f"text does not match /{expect['text_matches']}/")
    if "choices" in expect:
        titles = [c.title.lower() for c in reply.choices]
        missing = [c for c in _as_list(expect["choices"]) if str(c).lower() not in titles]
        if missing:
            failures.append(f"choices {missing} not offered (offered {titles})")
    if "handoff" in expect and reply.handoff != bool(expect["handoff"]):
        failures.append(f"handoff: expected {expect['handoff']}, got {reply.handoff}")
    if "ends" in expect and any(m.ends_conversation for m in reply.messages) != expect["ends"]:
        failures.append(f"ends conversation: expected {expect['ends']}")
    if expect.get("source") and not any(m.source for m in reply.messages):
        failures.append("no source given with the answer")
    if expect.get("not_filed") and reply.filed_reference:
        failures.append(f"a request was filed ({reply.filed_reference})")
    if "filed" in expect:
        wanted = dict(expect["filed"] or {})
        if filed_fields is not None:
            visible = set(filed_fields)
            unchecked += [f"filed {k} (not public over REST)" for k in wanted if k not in visible]
            wanted = {k: v for k, v in wanted.items() if k in visible}
        failures += _check_filed(wanted, reply, filed)
    return failures, unchecked


def _check_filed(
    fields: dict[str, Any], reply: Reply, filed: Callable[[str], dict[str, Any] | None]
) -> list[str]:
    if not reply.filed_reference:
        return ["no request was filed"]
    request = filed(reply.filed_reference)
    if request is None:
        return [f"request {reply.filed_reference} not found"]
    return [
        f"filed {name}: expected {value!r}, got {request.get(name)!r}"
        for name, value in fields.items()
        if str(request.get(name, "")).lower() != str(value).lower()
    ]


def _saved(reply: Reply, source: str) -> str | None:
    """A reply attribute (``filed_reference``, ``intent``, ``text``) or ``entities.NAME``."""
    if source.startswith("entities."):
        name = source.partition(".")[2]
        return next((e.value for e in reply.entities if e.entity == name), None)
    value = getattr(reply, source, None)
    return None if value is None else str(value)


def observed(reply: Reply) -> dict[str, Any]:
    """What a reply showed, in the shape reports print next to the expectation."""
    return {
        "text": reply.text,
        "intent": reply.intent,
        "confidence": None if reply.confidence is None else round(reply.confidence, 3),
        "entities": {e.entity: e.value for e in reply.entities},
        "choices": [c.title for c in reply.choices],
        "handoff": reply.handoff,
        "filed_reference": reply.filed_reference,
    }


def new_sender() -> str:
    return f"qa-{uuid.uuid4().hex[:12]}"


def run_conversation(conversation: Conversation, target: Target) -> ConversationResult:
    """Play one conversation from a fresh sender to its end, as Rasa's own test does, so every
    failing turn is reported; only a message that could not be sent stops it."""
    started = time.perf_counter()
    sender = new_sender()
    variables: dict[str, str] = {"sender": sender}
    results: list[StepResult] = []
    unobservable = getattr(target, "unobservable", ())
    filed_fields = getattr(target, "filed_fields", None)

    def done(**extra: Any) -> ConversationResult:
        return ConversationResult(
            conversation, results, seconds=time.perf_counter() - started, **extra
        )

    if not conversation.steps:
        return done(skipped="nothing to send: " + "; ".join(conversation.skipped_steps))
    for index, raw in enumerate(conversation.steps, 1):
        step = _substitute(raw, variables)
        if "advance" in step:
            try:
                target.advance(parse_duration(step["advance"]))
            except Unsupported as exc:
                return done(skipped=f"step {index}: {exc}")
            continue
        if step.get("fresh_sender"):
            sender = variables["sender"] = new_sender()
            continue
        message: dict[str, Any] = {"channel": conversation.channel, "sender": sender}
        sent = ""
        for key in SEND_KEYS:
            if key in step:
                message["text" if key == "user" else key] = (
                    step[key] if key == "location" else str(step[key])
                )
                sent = str(step[key])
        expect = step.get("expect") or {}
        try:
            reply = target.send(message)
        except Unsupported as exc:
            return done(skipped=f"step {index}: {exc}")
        except Exception as exc:
            results.append(StepResult(index, sent, "", expect, [f"sending failed: {exc!r}"]))
            break
        failures, unchecked = check(expect, reply, target.filed, unobservable, filed_fields)
        for name, source in (expect.get("save") or {}).items():
            value = _saved(reply, str(source))
            if value is None:
                failures.append(f"save {name}: the reply has no {source}")
            else:
                variables[name] = value
        results.append(
            StepResult(
                index, sent, reply.text, expect, failures, reply.intent, observed(reply), unchecked
            )
        )
    return done()


def run_suite(
    conversations: list[Conversation],
    target: Target,
    *,
    workers: int = 1,
    on_result: Callable[[ConversationResult], None] | None = None,
) -> list[ConversationResult]:
    """Play every conversation, independent ones in parallel; results in suite order.

    Each conversation has its own sender, so threads never share a dialogue. A conversation
    that moves the clock moves it for everyone, so those run one at a time after the rest.
    """
    lock = threading.Lock()
    results: dict[int, ConversationResult] = {}

    def play(number: int) -> None:
        result = run_conversation(conversations[number], target)
        with lock:
            results[number] = result
            if on_result:
                on_result(result)

    parallel = [i for i, c in enumerate(conversations) if not c.moves_clock]
    serial = [i for i, c in enumerate(conversations) if c.moves_clock]
    if workers > 1 and len(parallel) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in as_completed([pool.submit(play, i) for i in parallel]):
                future.result()
    else:
        for number in parallel:
            play(number)
    for number in serial:
        play(number)
    return [results[i] for i in range(len(conversations))]


class InProcessTarget:
    """The assistant in this process, with a clock the suite can move."""

    name = "in-process"

    def __init__(self, runtime: Any, clock: MovableClock) -> None:
        self.runtime = runtime
        self.clock = clock

    @property
    def max_workers(self) -> int | None:
        """SQLite has one write lock, which a turn may hold from its first write to its
        commit: under load, parallel turns wait out the busy timeout and fail. PostgreSQL
        locks rows, so there conversations run in parallel."""
        return 1 if self.runtime.db.is_sqlite else None

    def send(self, message: dict[str, Any]) -> Reply:
        from bot.contract import InboundMessage

        return self.runtime.assistant.handle(InboundMessage.model_validate(message))

    def filed(self, reference: str) -> dict[str, Any] | None:
        from bot import service_requests

        with self.runtime.db.sessions() as session:
            request = service_requests.find(session, reference)
            if request is None:
                return None
            return {c.name: getattr(request, c.name) for c in request.__table__.columns} | dict(
                request.fields or {}
            )

    def advance(self, by: timedelta) -> None:
        self.clock.advance(by)
