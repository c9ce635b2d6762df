"""A Rasa project's NLU items as Rasa reads them: YAML, Rasa 1 Markdown and JSON, with lines.

Every example keeps the file and line it came from, so that what the import repairs or drops
is reported where the team can find it, not at a line of our own output.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from bot.nlu.training_data import parse_example

NLU_KINDS = ("intent", "synonym", "regex", "lookup")
_MD_SECTION = re.compile(r"^##\s*(intent|synonym|regex|lookup)\s*:\s*(.+?)\s*$")
_ANNOTATION = re.compile(r"\[[^\[\]]+\](?:\([^()\[\]]*\)|\{[^{}]*\})")


@dataclass(frozen=True)
class Origin:
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class SourceItem:
    kind: str  # one of NLU_KINDS
    name: str
    examples: list[tuple[str, Origin]]
    origin: Origin
    extra_keys: list[str] = field(default_factory=list)


def _scalar_lines(node: Any) -> list[tuple[str, int]]:
    """The ``- text`` lines of a block scalar with their 1-based source lines."""
    if not isinstance(node, ScalarNode):
        return []
    first = node.start_mark.line + (2 if node.style in ("|", ">") else 1)
    out = []
    for offset, line in enumerate(str(node.value).splitlines()):
        if line.strip()[:2] == "- ":
            out.append((line.strip()[2:].strip(), first + offset))
    return out


def _long_form(node: Any) -> list[tuple[str, int]]:
    """Rasa 3's ``examples:`` list of ``{text: ..., metadata: ...}`` (or plain strings)."""
    out = []
    for item in node.value if isinstance(node, SequenceNode) else []:
        if isinstance(item, ScalarNode):
            out.append((str(item.value).strip(), item.start_mark.line + 1))
        elif isinstance(item, MappingNode):
            for key, value in item.value:
                if key.value == "text" and isinstance(value, ScalarNode):
                    out.append((str(value.value).strip(), value.start_mark.line + 1))
    return out


def read_yaml(path: Path, shown: str) -> tuple[list[SourceItem], dict[str, Any]]:
    """The NLU items of one YAML file, and its other top-level keys (domain keys, stories)."""
    text = path.read_text(encoding="utf-8")
    root = yaml.compose(text)
    raw = yaml.safe_load(text)
    if not isinstance(root, MappingNode) or not isinstance(raw, dict):
        return [], {}
    items: list[SourceItem] = []
    for key, value in root.value:
        if key.value != "nlu" or not isinstance(value, SequenceNode):
            continue
        for node in value.value:
            if not isinstance(node, MappingNode):
                continue
            fields = {k.value: v for k, v in node.value}
            kind = next((k for k in NLU_KINDS if k in fields), None)
            origin = Origin(shown, node.start_mark.line + 1)
            if kind is None:
                items.append(SourceItem("unknown", str(sorted(fields)), [], origin))
                continue
            block = fields.get("examples")
            lines = _scalar_lines(block) or _long_form(block)
            examples = [(t, Origin(shown, n)) for t, n in lines]
            extra = sorted(set(fields) - {kind, "examples", "metadata"})
            items.append(SourceItem(kind, str(fields[kind].value), examples, origin, extra))
    return items, {k: v for k, v in raw.items() if k not in ("nlu", "version")}


def read_markdown(path: Path, shown: str) -> list[SourceItem]:
    """Rasa 1's ``## intent:greet`` sections of ``- example`` lines."""
    items: list[SourceItem] = []
    current: SourceItem | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        section = _MD_SECTION.match(line.strip())
        if section:
            current = SourceItem(section[1], section[2], [], Origin(shown, number))
            items.append(current)
        elif line.strip().startswith("## "):
            current = None
        elif current is not None and line.strip()[:2] in ("- ", "* ", "+ "):
            current.examples.append((line.strip()[2:].strip(), Origin(shown, number)))
    return items


def _marked(text: str, entities: list[dict[str, Any]]) -> str:
    """A JSON example's entities written back as Rasa's inline markup."""
    out, cursor = [], 0
    for e in sorted(entities, key=lambda e: int(e.get("start", 0))):
        start, end = int(e["start"]), int(e["end"])
        surface = text[start:end]
        spec = {"entity": e["entity"]}
        for key in ("role", "group"):
            if e.get(key):
                spec[key] = e[key]
        if e.get("value") is not None and str(e["value"]) != surface:
            spec["value"] = str(e["value"])
        mark = json.dumps(spec, ensure_ascii=False) if len(spec) > 1 else None
        out += [text[cursor:start], f"[{surface}]" + (mark or f"({e['entity']})")]
        cursor = end
    return "".join([*out, text[cursor:]])


def read_json(path: Path, shown: str) -> list[SourceItem]:
    """Rasa's JSON NLU format (``rasa_nlu_data``): examples, regexes, lookups, synonyms."""
    text = path.read_text(encoding="utf-8")
    data = (json.loads(text) or {}).get("rasa_nlu_data") or {}

    def line_of(needle: str) -> int:
        at = text.find(json.dumps(needle, ensure_ascii=False)[1:-1])
        return text.count("\n", 0, max(at, 0)) + 1

    by_intent: dict[str, SourceItem] = {}
    items: list[SourceItem] = []
    for example in data.get("common_examples") or []:
        intent = str(example.get("intent") or "")
        if not intent:
            continue
        item = by_intent.get(intent)
        if item is None:
            item = by_intent[intent] = SourceItem("intent", intent, [], Origin(shown, 1))
            items.append(item)
        raw = str(example.get("text") or "")
        item.examples.append(
            (_marked(raw, example.get("entities") or []), Origin(shown, line_of(raw)))
        )
    for regex in data.get("regex_features") or []:
        origin = Origin(shown, line_of(str(regex.get("pattern", ""))))
        items.append(
            SourceItem("regex", str(regex["name"]), [(str(regex["pattern"]), origin)], origin)
        )
    for table in data.get("lookup_tables") or []:
        elements = table.get("elements") or []
        origin = Origin(shown, line_of(str(table.get("name", ""))))
        if isinstance(elements, list):
            items.append(
                SourceItem(
                    "lookup", str(table["name"]), [(str(x), origin) for x in elements], origin
                )
            )
    for synonym in data.get("entity_synonyms") or []:
        origin = Origin(shown, line_of(str(synonym.get("value", ""))))
        items.append(
            SourceItem(
                "synonym",
                str(synonym["value"]),
                [(str(x), origin) for x in synonym.get("synonyms") or []],
                origin,
            )
        )
    return items


def repaired(example: str, intent: str) -> tuple[str | None, str | None]:
    """The example as Rasa would train on it, and what was changed (None: unchanged).

    Rasa reads a stray bracket (``- hello]``) as text and an example is one line; our own
    loader is stricter, so the import repairs what Rasa tolerates and says so.
    """
    note = None
    if "\n" in example or "\r" in example:
        example = " ".join(example.split())
        note = "line breaks inside the example joined into one line"
    try:
        parse_example(example, intent)
        return example, note
    except ValueError as exc:
        if "unbalanced" not in str(exc):
            return None, f"dropped: {exc}"
    pieces, cursor = [], 0
    for match in _ANNOTATION.finditer(example):
        pieces += [example[cursor : match.start()].replace("[", "").replace("]", ""), match[0]]
        cursor = match.end()
    pieces.append(example[cursor:].replace("[", "").replace("]", ""))
    fixed = " ".join("".join(pieces).split())
    try:
        parse_example(fixed, intent)
    except ValueError as exc:
        return None, f"dropped: {exc}"
    return fixed, "stray '[' or ']' removed (Rasa reads them as text)"
