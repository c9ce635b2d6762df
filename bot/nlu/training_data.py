"""Our own reader of Rasa's NLU YAML (intents, annotated examples, synonyms, regexes, lookups).

Teams coming from Rasa bring their ``nlu.yml`` unchanged. Every error names the file and line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

BLOCK_KINDS = ("intent", "synonym", "regex", "lookup")
OTHER_KEYS = {
    "responses",
    "stories",
    "rules",
    "slots",
    "forms",
    "actions",
    "entities",
    "intents",
    "session_config",
    "e2e_actions",
}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<paren>[^)]*)\)|(?P<json>\{[^}]*\}))")


class NLUFormatError(ValueError):
    def __init__(self, path: Path | str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = str(path)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class EntityAnnotation:
    entity: str
    value: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[EntityAnnotation, ...] = ()


@dataclass
class TrainingData:
    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})

    def examples_for(self, intent: str) -> list[Example]:
        return [e for e in self.examples if e.intent == intent]

    def merge(self, other: TrainingData) -> TrainingData:
        return TrainingData(
            examples=[*self.examples, *other.examples],
            synonyms={**self.synonyms, **other.synonyms},
            regexes={
                k: [*self.regexes.get(k, []), *other.regexes.get(k, [])]
                for k in {*self.regexes, *other.regexes}
            },
            lookups={
                k: [*self.lookups.get(k, []), *other.lookups.get(k, [])]
                for k in {*self.lookups, *other.lookups}
            },
        )


def parse_example(text: str, intent: str) -> Example:
    """Strip ``[text](entity)`` annotations, keeping where each entity sits in the plain text."""
    plain: list[str] = []
    entities: list[EntityAnnotation] = []
    cursor = 0
    length = 0
    for match in _ANNOTATION.finditer(text):
        before = text[cursor : match.start()]
        plain.append(before)
        length += len(before)
        surface = match.group("text")
        if match.group("json"):
            spec = json.loads(match.group("json"))
            if not isinstance(spec, dict) or "entity" not in spec:
                raise ValueError(f"entity annotation {match.group(0)!r} needs an 'entity'")
            entity, value = str(spec["entity"]), str(spec.get("value", surface))
        else:
            name, _, value = (match.group("paren") or "").partition(":")
            entity, value = name.strip(), value.strip() or surface
        if not entity:
            raise ValueError(f"entity annotation {match.group(0)!r} has no entity name")
        entities.append(EntityAnnotation(entity, value, length, length + len(surface), surface))
        plain.append(surface)
        length += len(surface)
        cursor = match.end()
    plain.append(text[cursor:])
    result = "".join(plain)
    if re.search(r"\]\(|\[[^\]]*$|^[^\[]*\]", result):
        raise ValueError(f"unbalanced entity annotation in {text!r}")
    return Example(result.strip(), intent, tuple(entities))


def _scalar(node: Node, path: Path, what: str) -> str:
    if not isinstance(node, ScalarNode):
        raise NLUFormatError(path, node.start_mark.line + 1, f"{what} must be text")
    return str(node.value)


def _example_lines(node: Node, path: Path) -> list[tuple[int, str]]:
    """The ``- example`` lines of a block, each with its line number in the file."""
    if not isinstance(node, ScalarNode):
        raise NLUFormatError(
            path, node.start_mark.line + 1, "examples must be a '|' block of '- ' lines"
        )
    first = node.start_mark.line + (2 if node.style in ("|", ">") else 1)
    lines: list[tuple[int, str]] = []
    for offset, raw in enumerate(node.value.splitlines()):
        line = raw.strip()
        if not line:
            continue
        number = first + offset
        if not line.startswith("- "):
            raise NLUFormatError(path, number, f"an example must start with '- ': {line!r}")
        text = line[2:].strip()
        if not text:
            raise NLUFormatError(path, number, "empty example")
        lines.append((number, text))
    if not lines:
        raise NLUFormatError(path, node.start_mark.line + 1, "a block with no examples")
    return lines


def _load_file(path: Path, ignore_other_keys: bool) -> TrainingData:
    data = TrainingData()
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise NLUFormatError(path, line, f"not valid YAML: {exc.problem}") from exc
    if root is None:
        return data
    if not isinstance(root, MappingNode):
        raise NLUFormatError(path, root.start_mark.line + 1, "expected a mapping with 'nlu:'")
    for key_node, value_node in root.value:
        key = _scalar(key_node, path, "a key")
        line = key_node.start_mark.line + 1
        if key == "version":
            continue
        if key != "nlu":
            if ignore_other_keys and key in OTHER_KEYS:
                continue
            raise NLUFormatError(path, line, f"unknown top-level key {key!r}")
        if not isinstance(value_node, SequenceNode):
            raise NLUFormatError(path, line, "'nlu' must be a list")
        for block in value_node.value:
            _load_block(block, path, data)
    return data


def _load_block(block: Node, path: Path, data: TrainingData) -> None:
    line = block.start_mark.line + 1
    if not isinstance(block, MappingNode):
        raise NLUFormatError(path, line, "each 'nlu' item must be a mapping")
    fields = {_scalar(k, path, "a key"): v for k, v in block.value}
    kinds = [k for k in BLOCK_KINDS if k in fields]
    unknown = set(fields) - {*BLOCK_KINDS, "examples", "metadata"}
    if unknown:
        raise NLUFormatError(path, line, f"unknown key(s) {sorted(unknown)}")
    if len(kinds) != 1:
        raise NLUFormatError(path, line, f"an item needs exactly one of {', '.join(BLOCK_KINDS)}")
    kind = kinds[0]
    name = _scalar(fields[kind], path, kind).strip()
    if not name:
        raise NLUFormatError(path, line, f"empty {kind} name")
    if "examples" not in fields:
        raise NLUFormatError(path, line, f"{kind} {name!r} has no examples")
    for number, text in _example_lines(fields["examples"], path):
        if kind == "intent":
            try:
                data.examples.append(parse_example(text, name))
            except (ValueError, json.JSONDecodeError) as exc:
                raise NLUFormatError(path, number, str(exc)) from exc
        elif kind == "synonym":
            data.synonyms[text.lower()] = name
        elif kind == "regex":
            try:
                re.compile(text)
            except re.error as exc:
                raise NLUFormatError(path, number, f"bad regex {text!r}: {exc}") from exc
            data.regexes.setdefault(name, []).append(text)
        else:
            data.lookups.setdefault(name, []).append(text)


def load_training_data(*paths: Path, ignore_other_keys: bool = False) -> TrainingData:
    """Read files or directories of .yml/.yaml; annotation values feed the synonyms too."""
    data = TrainingData()
    for path in paths:
        files = sorted([*path.rglob("*.yml"), *path.rglob("*.yaml")]) if path.is_dir() else [path]
        for file in files:
            data = data.merge(_load_file(file, ignore_other_keys))
    for example in data.examples:
        for entity in example.entities:
            if entity.value != entity.text:
                data.synonyms.setdefault(entity.text.lower(), entity.value)
    return data
