"""Entities learned from the annotated examples: a linear-chain CRF over token features.

A city's data names things nobody wrote an extractor for (facility names, bin types, permit
kinds), and teams moving from Rasa bring ``[checking](account_type)`` annotations that must
keep working. A CRF (the model behind Rasa's CRFEntityExtractor) learns them from a few
hundred annotations in well under a second and tags a message in microseconds; the data's
regexes and lookup tables are its features, as in Rasa, and its synonyms normalise values.
People's names ("transfer money to ethan oswald") are rarely the ones in the training data
and often lower-case; a token that is a common given name or surname (Faker's name lists for
English- and Spanish-speaking places) is a feature too, which Rasa gets from spaCy's NER.

Labels are BILOU tags whose entity part carries Rasa's role and group:
``B-city#destination`` is the first token of a ``city`` with role ``destination``.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from pathlib import Path

import pycrfsuite

from bot.nlu.entities import Entity
from bot.nlu.training_data import EntityAnnotation, Example, TrainingData

EXTRACTOR = "crf"
MODEL_FILE = "entities.crfsuite"
META_FILE = "entities.json"
_TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
_ROLE = "#"
_GROUP = "@"


NAME_LOCALES = ("en_US", "en_GB", "en_IE", "en_NZ", "en_IN", "es_MX", "es_ES")
_NAME_LISTS = ("first_names", "first_names_male", "first_names_female", "last_names")


@cache
def person_names() -> frozenset[str]:
    """Lower-case given names and surnames, about six thousand (5-fold CV on financial-demo's
    training split: entity F1 0.873 without, 0.884 with; docs/benchmarks.md)."""
    names: set[str] = set()
    for locale in NAME_LOCALES:
        provider = import_module(f"faker.providers.person.{locale}").Provider
        for attribute in _NAME_LISTS:
            names.update(n.lower() for n in getattr(provider, attribute, ()))
    return frozenset(names)


@dataclass(frozen=True)
class TaggerConfig:
    """L1/L2 regularisation and iterations: Rasa's CRF defaults, confirmed on validation data."""

    c1: float = 0.1
    c2: float = 0.1
    max_iterations: int = 100


def tokens(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group(0)) for m in _TOKEN.finditer(text)]


def _shape(word: str) -> str:
    shape = re.sub(r"[A-Z]", "X", word)
    shape = re.sub(r"[a-z]", "x", shape)
    shape = re.sub(r"\d", "d", shape)
    return re.sub(r"(.)\1+", r"\1\1", shape)


def _label(annotation: EntityAnnotation) -> str:
    label = annotation.entity
    if annotation.role:
        label += _ROLE + annotation.role
    if annotation.group:
        label += _GROUP + annotation.group
    return label


def _unlabel(label: str) -> tuple[str, str | None, str | None]:
    label, _, group = label.partition(_GROUP)
    entity, _, role = label.partition(_ROLE)
    return entity, role or None, group or None


class Patterns:
    """The data's regexes and lookup tables, as token features (never as answers by themselves)."""

    def __init__(self, data: TrainingData) -> None:
        self._regexes = [
            (name, re.compile(p, re.I)) for name, ps in data.regexes.items() for p in ps
        ]
        self._lookups = [
            (name, re.compile(r"(?<!\w)" + re.escape(item) + r"(?!\w)", re.I))
            for name, items in data.lookups.items()
            for item in items
            if item.strip()
        ]

    def token_features(self, text: str, toks: list[tuple[int, int, str]]) -> list[set[str]]:
        marks: list[set[str]] = [set() for _ in toks]
        for kind, table in (("re", self._regexes), ("lk", self._lookups)):
            for name, pattern in table:
                for m in pattern.finditer(text):
                    if m.end() <= m.start():
                        continue
                    inside = [
                        i for i, (s, e, _) in enumerate(toks) if s < m.end() and e > m.start()
                    ]
                    for n, i in enumerate(inside):
                        where = "B" if n == 0 else "I"
                        marks[i].add(f"{kind}:{name}:{where}")
        return marks


def features(text: str, toks: list[tuple[int, int, str]], patterns: Patterns) -> list[list[str]]:
    marks = patterns.token_features(text, toks)
    words = [t[2] for t in toks]
    names = person_names()
    for i, word in enumerate(words):
        if word.lower() in names:
            marks[i].add("name")
    rows: list[list[str]] = []
    for i, word in enumerate(words):
        low = word.lower()
        row = [
            "bias",
            f"w={low}",
            *(f"p{n}={low[:n]}" for n in range(1, 5)),
            *(f"s{n}={low[-n:]}" for n in range(1, 5)),
            f"shape={_shape(word)}",
        ]
        if word[:1].isupper():
            row.append("title")
        if word.isdigit():
            row.append("digit")
        row.extend(marks[i])
        for offset in (-2, -1, 1, 2):
            j = i + offset
            if 0 <= j < len(words):
                row.append(f"{offset}:w={words[j].lower()}")
                row.extend(f"{offset}:{m}" for m in marks[j])
                if abs(offset) == 1:
                    row.append(f"{offset}:shape={_shape(words[j])}")
                    row.append(f"{offset}:p3={words[j].lower()[:3]}")
            else:
                row.append(f"{offset}:edge")
        rows.append(row)
    return rows


def bilou(example: Example, toks: list[tuple[int, int, str]], learned: set[str]) -> list[str]:
    tags = ["O"] * len(toks)
    for a in example.entities:
        if a.entity not in learned:
            continue
        inside = [i for i, (s, e, _) in enumerate(toks) if s < a.end and e > a.start]
        if not inside:
            continue
        label = _label(a)
        if len(inside) == 1:
            tags[inside[0]] = f"U-{label}"
            continue
        tags[inside[0]] = f"B-{label}"
        for i in inside[1:-1]:
            tags[i] = f"I-{label}"
        tags[inside[-1]] = f"L-{label}"
    return tags


class EntityTagger:
    """Trained with the intent model, saved beside it; ``extract`` runs on every parse."""

    def __init__(self, config: TaggerConfig | None = None) -> None:
        self.config = config or TaggerConfig()
        self.entities: list[str] = []
        self._data = TrainingData()
        self._patterns = Patterns(self._data)
        self._model: bytes | None = None
        self._tagger: pycrfsuite.Tagger | None = None

    def train(self, data: TrainingData, skip: Iterable[str] = ()) -> EntityTagger:
        """Learn every annotated entity except those in ``skip`` (the city's rule extractors)."""
        learned = {a.entity for e in data.examples for a in e.entities} - set(skip)
        self._use(
            sorted(learned),
            TrainingData(synonyms=data.synonyms, regexes=data.regexes, lookups=data.lookups),
        )
        self._model = self._tagger = None
        if not learned:
            return self
        trainer = pycrfsuite.Trainer(verbose=False)
        for example in data.examples:
            toks = tokens(example.text)
            if toks:
                trainer.append(
                    features(example.text, toks, self._patterns), bilou(example, toks, learned)
                )
        trainer.set_params(
            {
                "c1": self.config.c1,
                "c2": self.config.c2,
                "max_iterations": self.config.max_iterations,
                "feature.possible_transitions": True,
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / MODEL_FILE
            trainer.train(str(path))
            self._open(path.read_bytes())
        return self

    def _use(self, entities: list[str], data: TrainingData) -> None:
        self.entities = entities
        self._data = data
        self._patterns = Patterns(data)

    def _open(self, model: bytes) -> None:
        self._model = model
        self._tagger = pycrfsuite.Tagger()
        self._tagger.open_inmemory(model)

    def save(self, directory: Path) -> None:
        (directory / MODEL_FILE).unlink(missing_ok=True)
        if self._model is not None:
            (directory / MODEL_FILE).write_bytes(self._model)
        meta = {
            "entities": self.entities,
            "synonyms": self._data.synonyms,
            "regexes": self._data.regexes,
            "lookups": self._data.lookups,
        }
        (directory / META_FILE).write_text(json.dumps(meta, ensure_ascii=False))

    def load(self, directory: Path) -> None:
        meta = json.loads((directory / META_FILE).read_text())
        data = TrainingData(
            synonyms=meta["synonyms"], regexes=meta["regexes"], lookups=meta["lookups"]
        )
        self._use(list(meta["entities"]), data)
        self._model = self._tagger = None
        if self.entities:
            self._open((directory / MODEL_FILE).read_bytes())

    def extract(self, text: str) -> list[Entity]:
        if self._tagger is None or not text:
            return []
        toks = tokens(text)
        if not toks:
            return []
        tags = self._tagger.tag(features(text, toks, self._patterns))
        return list(self._spans(text, toks, tags))

    def _spans(
        self, text: str, toks: list[tuple[int, int, str]], tags: list[str]
    ) -> Iterable[Entity]:
        """BILOU runs into entities; a run the CRF left open still counts (B without L)."""
        start: int | None = None
        current = ""
        for i, tag in enumerate([*tags, "O"]):
            prefix, _, label = tag.partition("-")
            if start is not None and (prefix in ("O", "B", "U") or label != current):
                yield self._entity(text, toks, start, i - 1, current)
                start = None
            if prefix in ("B", "U") or (prefix in ("I", "L") and start is None):
                start, current = i, label
            if prefix in ("L", "U") and start is not None:
                yield self._entity(text, toks, start, i, current)
                start = None

    def _entity(
        self, text: str, toks: list[tuple[int, int, str]], first: int, last: int, label: str
    ) -> Entity:
        begin, end = toks[first][0], toks[last][1]
        surface = text[begin:end]
        entity, role, group = _unlabel(label)
        value = self._data.synonyms.get(surface.lower(), surface)
        return Entity(entity, value, surface, begin, end, EXTRACTOR, role=role, group=group)
