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
- ``import-report.yml``: everything not mapped (slots, forms, custom actions, rules and
  training stories, buttons and conditions on responses, entity roles and groups, test
  steps that are not user turns), each with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evaluation import rasa_stories

PLACEHOLDER_URL = "https://example.invalid/imported-from-rasa"
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass
class ImportReport:
    written: dict[str, str] = field(default_factory=dict)  # file -> what it holds
    counts: dict[str, int] = field(default_factory=dict)
    not_mapped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def skip(self, what: str, why: str) -> None:
        self.not_mapped.append(f"{what}: {why}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "counts": self.counts,
            "not_mapped": self.not_mapped,
            "errors": self.errors,
        }

    def __str__(self) -> str:
        lines = [f"wrote {name}: {what}" for name, what in self.written.items()]
        lines += [f"{k}: {v}" for k, v in self.counts.items()]
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


_ROLE_OR_GROUP = re.compile(r'"(role|group)"\s*:')


def convert_nlu(
    items: list[Any], report: ImportReport
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Our NLU items, plus the examples of each retrieval intent (``faq/x`` -> examples)."""
    intents: dict[str, list[str]] = {}
    retrieval: dict[str, list[str]] = {}
    others: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            report.skip(f"nlu item {item!r}", "not a mapping")
            continue
        examples = _examples(item.get("examples"))
        if "intent" in item:
            name = str(item["intent"])
            for extra in set(item) - {"intent", "examples", "metadata"}:
                report.skip(f"intent {name}: key {extra}", "not used by our loader")
            if any(_ROLE_OR_GROUP.search(e) for e in examples):
                report.skip(
                    f"intent {name}: entity roles/groups",
                    "kept as plain entities (we have no roles or groups)",
                )
                examples = [_strip_roles(e) for e in examples]
            if "/" in name:
                retrieval[name] = examples
                name = rasa_stories.our_intent(name)
            intents.setdefault(name, []).extend(examples)
        elif "synonym" in item or "regex" in item or "lookup" in item:
            kind = next(k for k in ("synonym", "regex", "lookup") if k in item)
            others.append({kind: str(item[kind]), "examples": _Literal(_block(examples))})
        else:
            report.skip(f"nlu item {sorted(item)}", "unknown kind")
    converted = [
        {"intent": name, "examples": _Literal(_block(dict.fromkeys(examples)))}
        for name, examples in intents.items()
    ]
    return converted + others, retrieval


def _strip_roles(example: str) -> str:
    def keep_entity(match: re.Match[str]) -> str:
        spec = yaml.safe_load(match.group(2))
        return f'[{match.group(1)}]{{"entity": "{spec["entity"]}"' + (
            f', "value": "{spec["value"]}"}}' if "value" in spec else "}"
        )

    return re.sub(r"\[([^\]]+)\](\{[^}]+\})", keep_entity, example)


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
                    "questions": [rasa_stories.strip_annotations(q)[0] for q in retrieval[intent]],
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
        ("actions", "custom actions run on Rasa's action server; we have none"),
    ):
        for name in domain.get(key) or []:
            report.skip(f"domain {key[:-1]} {name}", why)
    return responses, articles


def _collect(project: Path, report: ImportReport) -> tuple[list[Any], dict[str, Any], list[Path]]:
    nlu: list[Any] = []
    test_files = _yaml_files(project / "tests")
    for path in _yaml_files(project / "data"):
        raw = _read_yaml(path)
        if not isinstance(raw, dict):
            report.skip(str(path.relative_to(project)), "not a Rasa data file")
            continue
        nlu += raw.get("nlu") or []
        for kind, singular in (("stories", "story"), ("rules", "rule")):
            for story in raw.get(kind) or []:
                label = story.get(singular) if isinstance(story, dict) else None
                report.skip(
                    f"{singular} {label!r} ({path.relative_to(project)})",
                    "training dialogue: our dialogue policy is code, not learned from stories",
                )
    if not nlu:
        raise RasaProjectError(f"{project}: no NLU data found under data/")
    domain: dict[str, Any] = {}
    for path in _yaml_files(project / "domain.yml") + _yaml_files(project / "domain"):
        raw = _read_yaml(path)
        if isinstance(raw, dict):
            for key, value in raw.items():
                if isinstance(value, dict):
                    domain.setdefault(key, {}).update(value)
                elif isinstance(value, list):
                    domain.setdefault(key, []).extend(value)
                else:
                    domain[key] = value
    return nlu, domain, test_files


def import_project(
    project: Path, out: Path, action_map: dict[str, dict[str, Any]] | None = None
) -> ImportReport:
    """Convert, validate with our own loaders, write OUT, and return the report."""
    report = ImportReport()
    if not project.is_dir():
        raise RasaProjectError(f"{project}: not a directory")
    nlu_items, domain, test_files = _collect(project, report)
    items, retrieval = convert_nlu(nlu_items, report)
    header = f"# Imported from the Rasa project {project.name} by `hotline import-rasa`.\n"
    nlu_path = out / "nlu.yml"
    _dump({"version": "3.1", "nlu": items}, nlu_path, header)
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
    report.counts = {
        "intents": sum(1 for i in items if "intent" in i),
        "examples": sum(len(str(i["examples"]).splitlines()) for i in items if "intent" in i),
        "responses": len(responses),
        "articles": len(articles),
        "conversations": 0,
        **report.counts,
    }
    for path in test_files:
        _convert_tests(path, project, out, action_map or {}, report)
    _dump(report.as_dict(), out / "import-report.yml", header)
    return report


def _convert_tests(
    path: Path, project: Path, out: Path, action_map: dict[str, Any], report: ImportReport
) -> None:
    raw = _read_yaml(path)
    relative = path.relative_to(project)
    if not isinstance(raw, dict) or not isinstance(raw.get("stories"), list):
        report.skip(str(relative), "no test stories in it")
        return
    conversations = rasa_stories.conversations(path, raw["stories"], action_map)
    kept = []
    for conversation in conversations:
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
