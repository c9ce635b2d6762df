"""Entities by rule: service type by synonym, places from the gazetteer, dates, phones, references.

Rules beat a learned tagger here: the vocabulary is closed (the catalogue, the city's streets)
and residents' messages are short; the rules are fast and every miss is explainable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import phonenumbers

from bot.city import SUFFIXES, City
from bot.nlu.training_data import TrainingData

WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|"
    "december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE_SPANS = re.compile(
    rf"""\b(?:
        (?:since\s+|from\s+)?(?:today|yesterday|tonight|tomorrow|last\s+night)
      | this\s+(?:morning|afternoon|evening|week)
      | (?:on\s+|last\s+|since\s+)?(?:{WEEKDAYS})(?:\s+(?:morning|afternoon|evening|night))?
      | \d+\s+(?:days?|weeks?|hours?|months?)\s+ago
      | (?:for|since)\s+\d+\s+(?:days?|weeks?|hours?|months?)
      | \d{{4}}-\d{{2}}-\d{{2}}
      | \d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS})\b(?:\s+\d{{4}})?
      | (?:{MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?
      | (?:at\s+)?\d{{1,2}}(?::\d{{2}})?\s*(?:am|pm|a\.m\.|p\.m\.)
      | at\s+\d{{1,2}}:\d{{2}}
    )\b""",
    re.I | re.X,
)
_SPOKEN_REFERENCE = re.compile(r"\br\W*e\W*q\b\W*((?:\d\W*){10})", re.I)
_DIGITS = re.compile(r"\d")


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    text: str
    start: int
    end: int
    extractor: str


def _name_pattern(name: str) -> str:
    """A street or place name that also matches its abbreviated suffix ('Elm St.')."""
    words = name.split()
    last = words[-1].lower()
    shorts = [short for short, full in SUFFIXES.items() if full == last]
    tail = re.escape(words[-1])
    if shorts:
        tail = f"(?:{tail}|{'|'.join(map(re.escape, shorts))})\\.?"
    return r"\s+".join([*map(re.escape, words[:-1]), tail])


def _alternation(names: Iterable[str]) -> str:
    return "|".join(sorted({_name_pattern(n) for n in names}, key=len, reverse=True))


class EntityExtractor:
    def __init__(self, data: TrainingData, city: City, service_codes: Iterable[str]) -> None:
        codes = set(service_codes)
        self._service_of = {s: v for s, v in data.synonyms.items() if v in codes}
        self._service_of.update({c.replace("_", " "): c for c in codes})
        surfaces = sorted(self._service_of, key=len, reverse=True)
        self._services = re.compile(
            r"\b(" + "|".join(re.escape(s) + r"(?:s|es)?" for s in surfaces) + r")\b", re.I
        )
        self._street_of = {n.lower(): s.name for s in city.streets for n in s.names}
        self._streets = re.compile(
            r"\b(?:(?P<number>\d{1,5}[a-z]?)\s+)?(?P<name>"
            + _alternation(n for s in city.streets for n in s.names)
            + r")(?!\w)",
            re.I,
        )
        self._city = city
        self._places = re.compile(
            r"\b(" + _alternation(n for p in city.places for n in p.names) + r")(?!\w)", re.I
        )
        self._districts = re.compile(
            r"\b(" + _alternation(d.name for d in city.districts) + r")(?!\w)", re.I
        )
        self._regexes = {
            name: [re.compile(p, re.I) for p in patterns]
            for name, patterns in data.regexes.items()
            if name != "phone"  # phones are found by phonenumbers, which validates them
        }
        self._lookups = {
            name: re.compile(
                r"\b(" + "|".join(sorted(map(re.escape, items), key=len, reverse=True)) + r")\b",
                re.I,
            )
            for name, items in data.lookups.items()
        }

    def extract(self, text: str) -> list[Entity]:
        """Every entity in the text; where two overlap, the longer wins."""
        found = [
            *self._service_types(text),
            *self._geography(text),
            *self._phones(text),
            *self._references(text),
            *self._others(text),
            *self._dates(text),
        ]
        found.sort(key=lambda e: (-(e.end - e.start), e.start))
        chosen: list[Entity] = []
        for entity in found:
            if all(entity.end <= c.start or entity.start >= c.end for c in chosen):
                chosen.append(entity)
        return sorted(chosen, key=lambda e: e.start)

    def _service_types(self, text: str) -> Iterable[Entity]:
        for m in self._services.finditer(text):
            surface = m.group(1).lower()
            code = (
                self._service_of.get(surface)
                or self._service_of.get(re.sub(r"(?:es|s)$", "", surface))
                or self._service_of.get(surface[:-1])
            )
            if code:
                yield Entity("service_type", code, m.group(1), m.start(), m.end(), "synonyms")

    def _geography(self, text: str) -> Iterable[Entity]:
        for m in self._streets.finditer(text):
            street = self._city.find_street(m.group("name"))
            if street is None:
                continue
            value = f"{m.group('number')} {street.name}" if m.group("number") else street.name
            yield Entity("street", value, m.group(0), m.start(), m.end(), "gazetteer")
        for m in self._places.finditer(text):
            place = self._city.place(m.group(1))
            if place:
                yield Entity("place", place.name, m.group(1), m.start(), m.end(), "gazetteer")
        for m in self._districts.finditer(text):
            district = self._city.district_of(m.group(1))
            if district:
                yield Entity("district", district.name, m.group(1), m.start(), m.end(), "gazetteer")

    @staticmethod
    def _phones(text: str) -> Iterable[Entity]:
        for match in phonenumbers.PhoneNumberMatcher(text, "US"):
            value = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            yield Entity("phone", value, match.raw_string, match.start, match.end, "phonenumbers")

    def _references(self, text: str) -> Iterable[Entity]:
        for pattern in self._regexes.get("reference", []):
            for m in pattern.finditer(text):
                digits = "".join(_DIGITS.findall(m.group(0)))
                if len(digits) == 10:
                    yield Entity(
                        "reference",
                        f"REQ-{digits[:4]}-{digits[4:]}",
                        m.group(0),
                        m.start(),
                        m.end(),
                        "regex",
                    )
        for m in _SPOKEN_REFERENCE.finditer(text):
            digits = "".join(_DIGITS.findall(m.group(1)))
            yield Entity(
                "reference",
                f"REQ-{digits[:4]}-{digits[4:]}",
                m.group(0).rstrip(),
                m.start(),
                m.start() + len(m.group(0).rstrip()),
                "regex",
            )

    def _others(self, text: str) -> Iterable[Entity]:
        for name, patterns in self._regexes.items():
            if name == "reference":
                continue
            for pattern in patterns:
                for m in pattern.finditer(text):
                    yield Entity(name, m.group(0), m.group(0), m.start(), m.end(), "regex")
        for name, pattern in self._lookups.items():
            for m in pattern.finditer(text):
                yield Entity(name, m.group(1), m.group(1), m.start(), m.end(), "lookup")

    @staticmethod
    def _dates(text: str) -> Iterable[Entity]:
        spans = list(_DATE_SPANS.finditer(text))
        if not spans:
            return
        import dateparser  # slow to import: only when a message has date words

        for m in spans:
            phrase = re.sub(r"^(?:since|from|on|for|at)\s+", "", m.group(0), flags=re.I)
            moment: datetime | None = dateparser.parse(
                phrase, settings={"PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False}
            )
            if moment is not None:
                entity = (
                    "time" if re.search(r"\d\s*(?:am|pm|a\.m|p\.m)|:\d\d", phrase, re.I) else "date"
                )
                yield Entity(
                    entity,
                    moment.isoformat(timespec="minutes"),
                    m.group(0),
                    m.start(),
                    m.end(),
                    "dateparser",
                )
