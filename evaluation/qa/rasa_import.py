"""`hotline import-rasa DIR OUT`: bring a Rasa project's data over, and say what stayed behind.

What becomes what (OUT/...):
- ``nlu.yml``: intents with their examples (entity markup kept), synonyms, regexes and lookup
  tables, in the same Rasa YAML our engine trains on, checked by our own loader. Retrieval
  intents (``faq/opening_hours``) are questions answered from a list: their examples go to
  our ``ask_question`` intent, which answers from the knowledge base.
- ``articles.yml``: each retrieval intent with a text response (``utter_faq/opening_hours``)
  is a question-and-answer pair, which is what our knowledge base holds: one *draft* article
  (questions = its NLU examples, answer = the response), importable with ``hotline kb import``;
  staff fill in the source URL and department and publish it.
- ``responses.yml``: every other text response, for reference. Our dialogue writes its own
  replies, so these are not used; the report says so.
- ``conversations/*.yml``: test stories in our conversation format.
- ``settings.env``: the project's ``session_config`` as our settings.
- ``import-report.yml``: everything not mapped (slots, forms, custom actions, rules and
  training stories, buttons and conditions on responses, domain keys we have no use for,
  test steps that are not user turns, examples repaired the way Rasa reads them), each with
  the reason and, for data, the source file and line; and every intent mapped onto one of
  the city's own (``human_handoff`` -> ``talk_to_human``), so that an imported project never
  shadows the city's built-in intents in silence.

Read like Rasa reads a project: YAML (``.yml``/``.yaml``) anywhere under ``data/``, Rasa 1
Markdown (``.md``) and JSON (``.json``) NLU files beside them, ``responses`` in data files as
well as in the domain, and Rasa 1 ``templates``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.nlu.entities import RULE_ENTITIES
from evaluation.qa import rasa_intent_map, rasa_sources, rasa_stories
from evaluation.qa.conversations import Conversation
from evaluation.qa.rasa_intent_map import RETRIEVAL_INTENT
from evaluation.qa.rasa_sources import SourceItem

PLACEHOLDER_URL = "https://example.invalid/imported-from-rasa"
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass
class ImportReport:
    written: dict[str, str] = field(default_factory=dict)  # file -> what it holds
    counts: dict[str, int] = field(default_factory=dict)
    not_mapped: list[str] = field(default_factory=list)
    mapped: list[str] = field(default_factory=list)  # their intent -> one of ours
    unsure: list[str] = field(default_factory=list)  # intents the team should settle
    errors: list[str] = field(default_factory=list)

    def skip(self, what: str, why: str) -> None:
        self.not_mapped.append(f"{what}: {why}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "counts": self.counts,
            "intents_mapped_onto_ours": self.mapped,
            "intents_unsure": self.unsure,
            "not_mapped": self.not_mapped,
            "errors": self.errors,
        }

    def __str__(self) -> str:
        lines = [f"wrote {name}: {what}" for name, what in self.written.items()]
        lines += [f"{k}: {v}" for k, v in self.counts.items()]
        lines.append(f"intents mapped onto the city's own ({len(self.mapped)}):")
        lines += [f"  - {item}" for item in self.mapped]
        if self.unsure:
            lines.append(f"UNSURE, please decide ({len(self.unsure)}):")
            lines += [f"  - {item}" for item in self.unsure]
        lines.append(f"not mapped ({len(self.not_mapped)}):")
        lines += [f"  - {item}" for item in self.not_mapped]
        lines += [f"ERROR {e}" for e in self.errors]
        return "\n".join(lines)


class RasaProjectError(ValueError):
    """A directory that is not a readable Rasa project."""


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RasaProjectError(f"{path}: not valid YAML: {exc}") from exc


def _yaml_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml"))
    return []


def _examples(block: Any) -> list[str]:
    """Rasa's ``examples: |`` block (``- text`` lines) or a list of ``{text: ...}``."""
    if isinstance(block, str):
        return [line.strip()[2:].strip() for line in block.splitlines() if line.strip()[:2] == "- "]
    if isinstance(block, list):
        return [str(e["text"] if isinstance(e, dict) else e).strip() for e in block]
    return []


def _block(lines: list[str]) -> str:
    return "".join(f"- {line}\n" for line in lines)


class _Literal(str):
    """Written as a YAML block scalar, as Rasa writes examples."""


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")


yaml.SafeDumper.add_representer(_Literal, _literal)


def _dump(data: Any, path: Path, header: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(header + text, encoding="utf-8")


def _once_each(texts: Iterable[str]) -> list[str]:
    """The first of each text, ignoring case, as our loader and schema compare them."""
    seen: dict[str, str] = {}
    for text in texts:
        seen.setdefault(text.casefold(), text)
    return list(seen.values())


def convert_nlu(
    items: list[SourceItem], intent_map: Mapping[str, str], report: ImportReport
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Our NLU items, plus the examples of each retrieval intent (``faq/x`` -> examples).

    Examples are repaired where Rasa is tolerant (``rasa_sources.repaired``), kept once each
    (ignoring case, as our loader compares them) and filed under the intent they map to.
    """
    intents: dict[str, list[str]] = {}
    retrieval: dict[str, list[str]] = {}
    others: list[dict[str, Any]] = []
    for item in items:
        if item.kind == "unknown":
            report.skip(f"nlu item {item.name} ({item.origin})", "unknown kind")
            continue
        for extra in item.extra_keys:
            report.skip(f"{item.kind} {item.name}: key {extra} ({item.origin})", "not used by us")
        if item.kind != "intent":
            block = _Literal(_block([text for text, _ in item.examples]))
            others.append({item.kind: item.name, "examples": block})
            continue
        examples = []
        for text, origin in item.examples:
            fixed, note = rasa_sources.repaired(text, item.name)
            if note:
                report.skip(f"example {text!r} ({origin})", note)
            if fixed:
                examples.append(fixed)
        if "/" in item.name:
            retrieval.setdefault(item.name, []).extend(examples)
        intents.setdefault(intent_map.get(item.name, item.name), []).extend(examples)
    converted = [
        {"intent": name, "examples": _Literal(_block(_once_each(examples)))}
        for name, examples in intents.items()
    ]
    return converted + others, retrieval


def _response_texts(name: str, variants: Any, report: ImportReport) -> list[str]:
    texts: list[str] = []
    for variant in variants if isinstance(variants, list) else []:
        if not isinstance(variant, dict):
            continue
        if variant.get("text"):
            texts.append(str(variant["text"]))
        dropped = sorted(set(variant) - {"text"})
        if dropped:
            report.skip(f"response {name}: {', '.join(dropped)}", "only text is kept")
    if not texts:
        report.skip(f"response {name}", "has no text variant")
    return texts


def _slug(name: str) -> str:
    return _SLUG.sub("-", name.lower()).strip("-")[:120] or "imported"


def convert_domain(
    domain: dict[str, Any], retrieval: dict[str, list[str]], report: ImportReport
) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    """Text responses, and one draft article per answered retrieval intent."""
    responses: dict[str, list[str]] = {}
    articles: list[dict[str, Any]] = []
    for name, variants in (domain.get("responses") or {}).items():
        texts = _response_texts(name, variants, report)
        if not texts:
            continue
        intent = name.removeprefix("utter_")
        if retrieval.get(intent):
            answer = texts[0]
            group, _, topic = intent.partition("/")
            articles.append(
                {
                    "slug": _slug(topic or intent),
                    "title": (topic or intent).replace("_", " ").capitalize(),
                    "category": group,
                    "department": "imported from Rasa",
                    "language": str(domain.get("language", "en")),
                    "source_url": PLACEHOLDER_URL,
                    "status": "draft",
                    "short_answer": " ".join(answer.split()[:60]),
                    "answer": answer,
                    "questions": _once_each(
                        rasa_stories.strip_annotations(q)[0] for q in retrieval[intent]
                    ),
                }
            )
        else:
            responses[name] = texts
    answered = {f"{a['category']}/{a['slug']}" for a in articles}
    for intent in sorted(retrieval):
        group, _, topic = intent.partition("/")
        if f"{group}/{_slug(topic)}" not in answered:
            report.skip(f"retrieval intent {intent}", "no text response to make an article of")
    for key, why in (
        ("slots", "our dialogue keeps its own slots in code (bot/dialogue)"),
        ("forms", "forms are code in bot/dialogue; map them to a service in services.yml"),
    ):
        for name in domain.get(key) or []:
            report.skip(f"domain {key[:-1]} {name}", why)
    for name in domain.get("actions") or []:
        if not str(name).startswith("utter_"):  # an utter_ action is a response, above
            report.skip(f"domain action {name}", "custom actions run on Rasa's action server")
    _other_domain_keys(domain, report)
    return responses, articles


HANDLED_DOMAIN_KEYS = {"responses", "slots", "forms", "actions", "session_config"}


def _other_domain_keys(domain: dict[str, Any], report: ImportReport) -> None:
    """Every other domain key, named: nothing is dropped without a word."""
    for entry in domain.get("intents") or []:
        if isinstance(entry, dict):
            for intent, options in entry.items():
                for option in sorted(options or {}):
                    report.skip(
                        f"domain intent {intent}: {option}",
                        "every entity is used with every intent here",
                    )
    if domain.get("entities"):
        names = [next(iter(e)) if isinstance(e, dict) else str(e) for e in domain["entities"]]
        report.skip(
            f"domain entities {', '.join(map(str, names))}",
            "declarations only: entities come from the annotations and the city's rules",
        )
    for key in sorted(set(domain) - HANDLED_DOMAIN_KEYS - {"intents", "entities"}):
        report.skip(f"domain key {key}", "not used by us")


def session_settings(domain: dict[str, Any], report: ImportReport) -> dict[str, str]:
    """``session_config`` as our settings: an idle conversation's forms expire alike."""
    config = domain.get("session_config") or {}
    settings: dict[str, str] = {}
    if not isinstance(config, dict):
        return settings
    minutes = config.get("session_expiration_time")
    if isinstance(minutes, int | float) and minutes > 0:
        settings["HOTLINE_SESSION_TTL_MINUTES"] = str(int(minutes))
    elif minutes is not None:
        report.skip(
            f"session_config session_expiration_time {minutes}",
            "sessions here always expire (HOTLINE_SESSION_TTL_MINUTES, default 30)",
        )
    if config.get("carry_over_slots_to_new_session") is not None:
        report.skip(
            "session_config carry_over_slots_to_new_session",
            "an expired conversation here keeps the resident's language and contact, not a form",
        )
    return settings


DATA_SUFFIXES = (".yml", ".yaml", ".md", ".json")
TRAINING_DIALOGUE = "training dialogue: our dialogue policy is code, not learned from stories"


def _data_files(project: Path) -> list[Path]:
    data = project / "data"
    if data.is_file():
        return [data]
    return sorted(p for p in data.rglob("*") if p.suffix in DATA_SUFFIXES and p.is_file())


def _merge_domain(domain: dict[str, Any], raw: dict[str, Any]) -> None:
    for key, value in raw.items():
        key = "responses" if key == "templates" else key  # Rasa 1's name for responses
        if isinstance(value, dict):
            domain.setdefault(key, {}).update(value)
        elif isinstance(value, list):
            domain.setdefault(key, []).extend(value)
        else:
            domain[key] = value


def _collect(
    project: Path, report: ImportReport
) -> tuple[list[SourceItem], dict[str, Any], list[Path]]:
    """NLU items from every data file, and the domain (``domain.yml``, ``domain/`` and any
    domain keys in data files, as Rasa merges them)."""
    items: list[SourceItem] = []
    domain: dict[str, Any] = {}
    for path in _data_files(project):
        shown = str(path.relative_to(project))
        if path.suffix == ".md":
            if "## intent:" in path.read_text(encoding="utf-8"):
                items += rasa_sources.read_markdown(path, shown)
            else:
                report.skip(shown, "Rasa 1 Markdown stories: training dialogue")
            continue
        if path.suffix == ".json":
            try:
                items += rasa_sources.read_json(path, shown)
            except (ValueError, KeyError, TypeError) as exc:
                raise RasaProjectError(f"{shown}: not a Rasa JSON NLU file: {exc}") from exc
            continue
        _read_yaml(path)  # unreadable YAML: the file named, as before
        found, rest = rasa_sources.read_yaml(path, shown)
        items += found
        for kind, singular in (("stories", "story"), ("rules", "rule")):
            for story in rest.pop(kind, None) or []:
                label = story.get(singular) if isinstance(story, dict) else None
                report.skip(f"{singular} {label!r} ({shown})", TRAINING_DIALOGUE)
        _merge_domain(domain, rest)
    if not any(item.kind == "intent" for item in items):
        raise RasaProjectError(f"{project}: no NLU data found under data/")
    for path in _yaml_files(project / "domain.yml") + _yaml_files(project / "domain"):
        raw = _read_yaml(path)
        if isinstance(raw, dict):
            _merge_domain(domain, {k: v for k, v in raw.items() if k != "version"})
    return items, domain, _yaml_files(project / "tests")


def import_project(
    project: Path,
    out: Path,
    action_map: dict[str, dict[str, Any]] | None = None,
    *,
    forced: Mapping[str, str] | None = None,
    kept: set[str] | None = None,
    encode: Callable[[list[str]], Any] | None = None,
) -> ImportReport:
    """Convert, validate with our own loaders, write OUT, and return the report.

    ``forced`` and ``kept`` settle intents the mapping onto ours is unsure of (the CLI's
    ``--map THEIRS=OURS`` and ``--keep THEIRS``); ``encode`` embeds texts (the packaged
    sentence model by default).
    """
    report = ImportReport()
    if not project.is_dir():
        raise RasaProjectError(f"{project}: not a directory")
    items, domain, test_files = _collect(project, report)
    intent_map = map_intents(items, report, forced, kept, encode)
    converted, retrieval = convert_nlu(items, intent_map, report)
    header = f"# Imported from the Rasa project {project.name} by `hotline import-rasa`.\n"
    nlu_path = out / "nlu.yml"
    _dump({"version": "3.1", "nlu": converted}, nlu_path, header)
    report.written["nlu.yml"] = "intents, examples, synonyms, regexes, lookups"
    _validate_nlu(nlu_path, report)
    responses, articles = convert_domain(domain, retrieval, report)
    if responses:
        _dump({"responses": responses}, out / "responses.yml", header)
        report.written["responses.yml"] = "text responses (reference only: not used by our bot)"
    if articles:
        _dump({"articles": articles}, out / "articles.yml", header)
        report.written["articles.yml"] = "draft knowledge articles from retrieval intents"
        _validate_articles(articles, report)
    settings = session_settings(domain, report)
    if settings:
        lines = "".join(f"{k}={v}\n" for k, v in settings.items())
        (out / "settings.env").write_text(header + lines, encoding="utf-8")
        report.written["settings.env"] = "session_config as our settings (add to your .env)"
    report.counts = {
        "intents": sum(1 for i in converted if "intent" in i),
        "examples": sum(len(str(i["examples"]).splitlines()) for i in converted if "intent" in i),
        "responses": len(responses),
        "articles": len(articles),
        "conversations": 0,
        **report.counts,
    }
    # Our rule entities count unless the project's own came from Duckling or spaCy under the
    # same name (Duckling's ``time`` is not our ``time``); annotated entities are learned.
    findable = (RULE_ENTITIES - set(external_entities(project))) | {
        a.entity for i in converted if "intent" in i for a in _annotations(str(i["examples"]))
    }
    for path in test_files:
        _convert_tests(path, project, out, action_map or {}, intent_map, findable, report)
    _dump(report.as_dict(), out / "import-report.yml", header)
    return report


def _annotations(block: str) -> list[Any]:
    return [a for line in _examples(block) for a in rasa_stories.strip_annotations(line)[1]]


def map_intents(
    items: list[SourceItem],
    report: ImportReport,
    forced: Mapping[str, str] | None,
    kept: set[str] | None,
    encode: Callable[[list[str]], Any] | None,
) -> dict[str, str]:
    """Their intent -> ours, for examples and test stories alike; each mapping reported."""
    from bot.nlu.training_data import load_training_data
    from bot.runtime import NLU_DATA

    ours = load_training_data(NLU_DATA)
    our_examples = {i: [e.text for e in ours.examples_for(i)] for i in ours.intents}
    theirs: dict[str, list[str]] = {}
    intent_map: dict[str, str] = {}
    for item in items:
        if item.kind != "intent":
            continue
        if "/" in item.name:  # faq/opening_hours, and its base faq in test stories
            intent_map[item.name] = intent_map[item.name.partition("/")[0]] = RETRIEVAL_INTENT
            continue
        texts = [rasa_stories.strip_annotations(t)[0] for t, _ in item.examples]
        theirs.setdefault(item.name, []).extend(texts)
    multi = {name: name.rsplit("+", 1)[1] for name in theirs if "+" in name}
    for name, last in multi.items():  # Rasa multi-intents: greet+ask_hours
        report.skip(
            f"multi-intent {name}",
            f"its examples train {last}: a message here has one intent, the request",
        )
        theirs.setdefault(last, []).extend(theirs.pop(name))
    if encode is None:
        from knowledge.embedder import load_embedder

        encode = load_embedder().encode
    for d in rasa_intent_map.decide(theirs, our_examples, encode, forced, kept):
        if d.status == "mapped" and d.target:
            intent_map[d.intent] = d.target
            report.mapped.append(f"{d.intent} -> {d.target} ({d.why})")
        elif d.status == "unsure":
            report.unsure.append(
                f"{d.intent} looks like our {d.target} ({d.why}): say --map {d.intent}={d.target} "
                f"or --keep {d.intent}"
            )
    for name, last in multi.items():
        intent_map[name] = intent_map.get(last, last)
    return intent_map


EXTERNAL_EXTRACTORS = ("DucklingEntityExtractor", "SpacyEntityExtractor", "MitieEntityExtractor")


def external_entities(project: Path) -> dict[str, str]:
    """Entity name -> the pipeline component of the project's config.yml that finds it.

    Duckling and spaCy are services and models we do not run; what they find and no example
    annotates cannot be expected of us, and is reported instead of failing a test story.
    """
    config = project / "config.yml"
    raw = _read_yaml(config) if config.is_file() else None
    pipeline = raw.get("pipeline") if isinstance(raw, dict) else None
    found: dict[str, str] = {}
    for component in pipeline or []:
        if isinstance(component, dict) and component.get("name") in EXTERNAL_EXTRACTORS:
            for dimension in component.get("dimensions") or []:
                found[str(dimension)] = str(component["name"])
    return found


def _drop_unfindable(
    conversation: Conversation,
    findable: set[str],
    external: Mapping[str, str],
    report: ImportReport,
) -> None:
    for number, step in enumerate(conversation.steps, 1):
        wanted = (step.get("expect") or {}).get("entities") or {}
        for label in [n for n in wanted if n.partition("#")[0] not in findable]:
            entity = label.partition("#")[0]
            source = external.get(entity, "nothing in the project")
            report.skip(
                f"test story {conversation.name!r} user turn {number}: entity {label}",
                f"found by {source}, which we do not run, and annotated in no example",
            )
            del wanted[label]
        if "entities" in (step.get("expect") or {}) and not wanted:
            del step["expect"]["entities"]


def _convert_tests(
    path: Path,
    project: Path,
    out: Path,
    action_map: dict[str, Any],
    intent_map: Mapping[str, str],
    findable: set[str],
    report: ImportReport,
) -> None:
    raw = _read_yaml(path)
    relative = path.relative_to(project)
    if not isinstance(raw, dict) or not isinstance(raw.get("stories"), list):
        report.skip(str(relative), "no test stories in it")
        return
    conversations = rasa_stories.conversations(path, raw["stories"], action_map, intent_map)
    kept = []
    external = external_entities(project)
    for conversation in conversations:
        _drop_unfindable(conversation, findable, external, report)
        report.not_mapped += [
            f"test story {conversation.name!r} {step}" for step in conversation.skipped_steps
        ]
        if conversation.steps:
            kept.append({"name": conversation.name, "steps": conversation.steps})
        else:
            report.skip(f"test story {conversation.name!r}", "no user turn to play")
    if kept:
        name = f"conversations/{path.stem}.yml"
        _dump({"conversations": kept}, out / name, f"# From {relative} by `hotline import-rasa`.\n")
        report.written[name] = f"{len(kept)} conversations from test stories"
        report.counts["conversations"] += len(kept)


def _validate_nlu(path: Path, report: ImportReport) -> None:
    from bot.nlu.training_data import load_training_data

    try:
        data = load_training_data(path)
    except Exception as exc:
        report.errors.append(f"nlu.yml does not load with our loader: {exc}")
        return
    report.counts["loaded_examples"] = len(data.examples)


def _validate_articles(articles: list[dict[str, Any]], report: ImportReport) -> None:
    from pydantic import ValidationError

    from knowledge.schema import ArticleData, describe

    for article in articles:
        try:
            ArticleData.model_validate(article)
        except ValidationError as exc:
            report.errors.append(f"article {article['slug']}: {describe(exc)}")
