"""Our own reader of Rasa's NLU YAML (intents, annotated examples, synonyms, regexes, lookups).

Teams coming from Rasa bring their ``nlu.yml`` unchanged, without installing Rasa. The reader
is stricter than Rasa where Rasa silently drops data (a mis-indented example, a half-written
``[text](entity`` annotation): every such mistake is an ``NLUFormatError`` naming the file and
the line, so a curator fixes it in seconds instead of wondering why an intent got worse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

BLOCK_KINDS = ("intent", "synonym", "regex", "lookup")
BLOCK_KEYS = {*BLOCK_KINDS, "examples", "metadata"}
TOP_LEVEL_KEYS = {"version", "nlu"}
# Keys of Rasa domain, story, rule and test files: skipped when ignore_other_keys=True.
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
    "config",
}
YAML_SUFFIXES = (".yml", ".yaml")
# Rasa's own annotation grammar: [text](entity), [text](entity:value), [text]{"entity": ...}.
_ANNOTATION = re.compile(
    r"\[(?P<text>[^\[\]]+)\]"
    r"(?:\((?P<paren>[^()\[\]]*)\)|(?P<json>\{[^{}]*\}))"
)
_ENTITY_NAME = re.compile(r"^[^\s:()\[\]{}]+$")


class NLUFormatError(ValueError):
    """A mistake in a training file, located so that an editor can jump to it."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = str(path)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class EntityAnnotation:
    entity: str
    value: str  # the synonym target when annotated as [x](entity:value), else the text
    start: int
    end: int
    text: str
    role: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[EntityAnnotation, ...] = ()


@dataclass
class TrainingData:
    """Everything an NLU file holds; several files merge into one."""

    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # lower-cased surface -> canonical
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})

    def examples_for(self, intent: str) -> list[Example]:
        return [e for e in self.examples if e.intent == intent]

    def merge(self, other: TrainingData) -> TrainingData:
        """A new TrainingData with both; on a conflicting synonym the other's wins."""
        return TrainingData(
            examples=[*self.examples, *other.examples],
            synonyms={**self.synonyms, **other.synonyms},
            regexes=_merge_lists(self.regexes, other.regexes),
            lookups=_merge_lists(self.lookups, other.lookups),
        )


def _merge_lists(a: dict[str, list[str]], b: dict[str, list[str]]) -> dict[str, list[str]]:
    merged = {k: list(v) for k, v in a.items()}
    for key, items in b.items():
        target = merged.setdefault(key, [])
        target.extend(i for i in items if i not in target)
    return merged


def parse_example(text: str, intent: str) -> Example:
    """Strip ``[text](entity)`` annotations, keeping where each entity sits in the plain text.

    Raises ValueError (located by the caller) for an annotation that is half written.
    """
    plain: list[str] = []
    entities: list[EntityAnnotation] = []
    leftovers: list[str] = []
    cursor = 0
    length = 0
    for match in _ANNOTATION.finditer(text):
        before = text[cursor : match.start()]
        leftovers.append(before)
        plain.append(before)
        length += len(before)
        surface = match.group("text")
        entity, value, role, group = _annotation(match, surface)
        entities.append(
            EntityAnnotation(entity, value, length, length + len(surface), surface, role, group)
        )
        plain.append(surface)
        length += len(surface)
        cursor = match.end()
    plain.append(text[cursor:])
    leftovers.append(text[cursor:])
    for piece in leftovers:
        _check_unbalanced(piece, text)
    joined = "".join(plain)
    stripped = joined.strip()
    if not stripped:
        raise ValueError("empty example")
    shift = len(joined) - len(joined.lstrip())
    if shift:
        entities = [replace(e, start=e.start - shift, end=e.end - shift) for e in entities]
    return Example(stripped, intent, tuple(entities))


def _annotation(match: re.Match[str], surface: str) -> tuple[str, str, str | None, str | None]:
    """Entity, value, role and group of one annotation (roles and groups: the JSON form)."""
    role = group = None
    if match.group("json") is not None:
        try:
            spec: Any = json.loads(match.group("json"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"entity annotation {match.group(0)!r} is not valid JSON") from exc
        if not isinstance(spec, dict) or not spec.get("entity"):
            raise ValueError(f"entity annotation {match.group(0)!r} needs an 'entity'")
        entity, value = str(spec["entity"]).strip(), str(spec.get("value", surface)).strip()
        role, group = (str(spec.get(k) or "").strip() or None for k in ("role", "group"))
    else:
        name, _, value = (match.group("paren") or "").partition(":")
        entity, value = name.strip(), value.strip() or surface
    if not entity or not _ENTITY_NAME.match(entity):
        raise ValueError(f"entity annotation {match.group(0)!r} has no usable entity name")
    if not surface.strip():
        raise ValueError(f"entity annotation {match.group(0)!r} annotates no text")
    return entity, value or surface, role, group


def _check_unbalanced(piece: str, example: str) -> None:
    """Brackets left outside a complete annotation mean the curator's markup is broken."""
    depth = 0
    for i, ch in enumerate(piece):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                break
            if piece[i + 1 : i + 2] in ("(", "{"):
                depth = -1
                break
    if depth != 0:
        raise ValueError(f"unbalanced [text](entity) annotation in {example!r}")


def _scalar(node: Node, path: Path, what: str) -> str:
    if not isinstance(node, ScalarNode):
        raise NLUFormatError(path, node.start_mark.line + 1, f"{what} must be text")
    return str(node.value)


def _example_lines(node: Node, path: Path, kind: str, name: str) -> list[tuple[int, str]]:
    """The ``- example`` lines of a block, each with its line number in the file."""
    if isinstance(node, SequenceNode):  # Rasa 3's long form: - text: ... (metadata: ...)
        return [_long_form_example(item, path) for item in node.value] or _empty(
            node, path, kind, name
        )
    if not isinstance(node, ScalarNode):
        raise NLUFormatError(
            path, node.start_mark.line + 1, "examples must be a '|' block of '- ' lines"
        )
    # A literal block's content starts on the line after its '|'; a plain or quoted scalar
    # starts on its own line (folded text only lets us point at where it starts).
    first = node.start_mark.line + (2 if node.style in ("|", ">") else 1)
    lines: list[tuple[int, str]] = []
    for offset, raw in enumerate(node.value.splitlines()):
        number = first + offset if node.style in ("|", ">") else first
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line != line.lstrip():
            raise NLUFormatError(
                path, number, f"an example is indented more than the others: {line.strip()!r}"
            )
        if line == "-" or line.startswith("- "):
            text = line[1:].strip()
            if not text:
                raise NLUFormatError(path, number, "empty example after '- '")
            lines.append((number, text))
            continue
        raise NLUFormatError(path, number, f"an example must start with '- ': {line!r}")
    return lines or _empty(node, path, kind, name)


def _empty(node: Node, path: Path, kind: str, name: str) -> list[tuple[int, str]]:
    raise NLUFormatError(path, node.start_mark.line + 1, f"{kind} {name!r} has no examples")


def _long_form_example(item: Node, path: Path) -> tuple[int, str]:
    line = item.start_mark.line + 1
    if not isinstance(item, MappingNode):
        raise NLUFormatError(path, line, "a listed example must be a mapping with 'text'")
    fields = {_scalar(k, path, "a key"): v for k, v in item.value}
    unknown = set(fields) - {"text", "metadata"}
    if unknown or "text" not in fields:
        raise NLUFormatError(
            path, line, f"a listed example needs 'text' only, got {sorted(fields)}"
        )
    text = _scalar(fields["text"], path, "text").strip()
    if text.startswith("- "):  # `text: |` followed by `- hi`, as Rasa writes it
        text = text[2:].strip()
    if not text:
        raise NLUFormatError(path, line, "empty example")
    return fields["text"].start_mark.line + 1, text


def _load_file(path: Path, ignore_other_keys: bool) -> TrainingData:
    data = TrainingData()
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise NLUFormatError(path, 1, "not UTF-8 text") from exc
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or exc.context or "syntax error"
        raise NLUFormatError(
            path, line, f"not valid YAML ({problem}); check the indentation"
        ) from exc
    except yaml.YAMLError as exc:
        raise NLUFormatError(path, 1, f"not valid YAML: {exc}") from exc
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
            if ignore_other_keys:
                continue
            hint = (
                " (a domain or story file? pass ignore_other_keys=True)"
                if key in OTHER_KEYS
                else ""
            )
            raise NLUFormatError(path, line, f"unknown top-level key {key!r}{hint}")
        if isinstance(value_node, ScalarNode) and value_node.value in ("", "~", "null"):
            continue  # `nlu:` with nothing under it
        if not isinstance(value_node, SequenceNode):
            raise NLUFormatError(
                path, value_node.start_mark.line + 1, "'nlu' must be a list of '- intent:' items"
            )
        for block in value_node.value:
            _load_block(block, path, data)
    return data


def _load_block(block: Node, path: Path, data: TrainingData) -> None:
    line = block.start_mark.line + 1
    if not isinstance(block, MappingNode):
        raise NLUFormatError(path, line, "each 'nlu' item must be a mapping like '- intent: name'")
    fields: dict[str, Node] = {}
    for key_node, value_node in block.value:
        key = _scalar(key_node, path, "a key")
        if key not in BLOCK_KEYS:
            raise NLUFormatError(path, key_node.start_mark.line + 1, f"unknown key {key!r}")
        fields[key] = value_node
    kinds = [k for k in BLOCK_KINDS if k in fields]
    if len(kinds) != 1:
        raise NLUFormatError(path, line, f"an item needs exactly one of {', '.join(BLOCK_KINDS)}")
    kind = kinds[0]
    name = _scalar(fields[kind], path, kind).strip()
    if not name:
        raise NLUFormatError(path, line, f"empty {kind} name")
    if "examples" not in fields:
        raise NLUFormatError(path, line, f"{kind} {name!r} has no examples")
    for number, text in _example_lines(fields["examples"], path, kind, name):
        if kind == "intent":
            try:
                data.examples.append(parse_example(text, name))
            except ValueError as exc:
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


def nlu_files(paths: Iterable[Path]) -> list[Path]:
    """Every NLU file under the given files and folders, in a stable order."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"no NLU training data at {path}")
    return files


def load_training_data(*paths: Path, ignore_other_keys: bool = False) -> TrainingData:
    """Read files or directories of .yml/.yaml into one TrainingData.

    As in Rasa, an annotation ``[text](entity:value)`` also makes ``text`` a synonym of
    ``value``; an explicit synonym block wins over it.
    """
    data = TrainingData()
    for file in nlu_files(paths):
        data = data.merge(_load_file(file, ignore_other_keys))
    for example in data.examples:
        for entity in example.entities:
            if entity.value != entity.text:
                data.synonyms.setdefault(entity.text.lower(), entity.value)
    return data
