"""Entities by rule: service type by synonym, places from the gazetteer, dates, phones, references.

Rules beat a learned tagger here: the vocabulary is closed (the catalogue, the city's streets,
the data's synonyms) and residents' messages are short; the rules are fast (well under a
millisecond for a message without dates) and every miss is explainable to a curator.

Entities produced (``Entity.entity``), each with a normalised ``value``:

- ``service_type``: a service code, from the data's synonyms, the codes and (when given)
  the services' names and keywords; singular or plural, any case, whole words only.
- ``street``: a gazetteer street ("12 Elm St" -> "12 Elm Street"; one typo forgiven before a
  street word: "Elmm Street"); "corner of Elm and Oak" -> "Elm Street & Oak Avenue".
- ``place`` and ``district``: the canonical name from the gazetteer.
- ``date`` (ISO ``YYYY-MM-DD``) or ``time`` (ISO ``YYYY-MM-DDTHH:MM`` when a time of day is
  said): "yesterday", "last night", "on Monday", "next Friday", "since 3 days", "in 2 weeks",
  "at 5pm", "3 May", "2026-05-03"; resolved against the extractor's clock, in the city's
  time zone, the way residents mean them (docs/dates.md): a weekday alone, with "this" or
  with "next" is never in the past; "last", "past", "ago" and "since" point back; a day and
  month without a year is the nearer of its occurrences.
- ``phone``: E.164, by ``phonenumbers`` (region US).
- ``reference``: ``REQ-YYYY-NNNNNN`` from typed ("req 2026 000123", "REQ2026000123") or
  spoken ("R E Q two zero two six ...") forms.
- any other regex of the data, and each lookup table (e.g. ``language``), by its name, when
  the examples annotate that entity (as Rasa's RegexEntityExtractor does).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from bot.city import ORDINALS, STREET_WORDS, SUFFIXES, City, Street, street_word
from bot.nlu.training_data import TrainingData


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    text: str
    start: int
    end: int
    extractor: str
    role: str | None = None
    group: str | None = None


# Ties in length go to the more specific kind.
PRIORITY = {
    "reference": 9,
    "phone": 8,
    "time": 7,
    "date": 7,
    "street": 6,
    "place": 5,
    "service_type": 4,
    "district": 3,
}
RULE_ENTITIES = frozenset(PRIORITY)  # what the city's own rules find; never learned
_TOKEN = re.compile(r"\w+(?:['’]\w+)*|&")
_HOUSE = re.compile(r"^\d{1,5}[a-z]?$", re.I)
LOCATION_WORDS = frozenset({"on", "at", "near", "along", "off", "outside", "by", "in", "opposite"})
FUNCTION_WORDS = frozenset({"the", "a", "an", "of", "my", "our", "this", "that", "old", "new"})
CORNER_WORDS = frozenset({"corner", "intersection", "junction", "crossing"})
JOIN_WORDS = frozenset({"and", "&", "with"})
DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_DIGIT_WORD_RUN = re.compile(
    r"\b(?:(?:zero|oh|o|one|two|three|four|five|six|seven|eight|nine|\d)\b[\s,.\-]*){4,}",
    re.I,
)
_HAS_DIGIT_WORD = re.compile(r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine)\b", re.I)
_MANY_DIGITS = re.compile(r"(?:\d\D{0,3}){7}")
_LOCAL_NUMBER = re.compile(r"(?<![\d-])(\d{3})[\s.-]?(\d{4})(?![\d-])")
LOCAL_NUMBER_CONTEXT = 12  # characters beside a local number when it is sent on its own
_PHONE_CONTEXT = re.compile(r"\b(?:phone|call|cell|mobile|tel|text me|ring|contact)\b", re.I)
_REF_PREFIX = (
    r"(?:\bR\W{0,2}E\W{0,2}Q(?=\W|\d|$)|\breference(?:\s+(?:number|no\.?|#))?"
    r"|\bref\b\.?|\brequest\s+(?:number|no\.?|#)|\bcase\s+(?:number|no\.?|#))"
)
_REFERENCE = re.compile(
    _REF_PREFIX + r"[\s\-#:.,]*(?P<digits>\d(?:[\s\-.,/]{0,2}\d){3,9})(?!\d)", re.I
)
_BARE_REFERENCE = re.compile(
    r"(?<![\d\w])(?P<digits>20\d\d[\-\s]?\d{6}|2 0 \d \d(?: \d){6})(?![\d\w])"
)

# ---- dates and times -------------------------------------------------------------------------
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec"
)
_PART = r"(?:morning|afternoon|evening|night)"
_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "a couple of": 2,
    "few": 3,
    "a few": 3,
    "several": 3,
}
_AMOUNT = (
    r"(?P<n>\d{1,3}|a\s+couple\s+of|a\s+few|several|a|an"
    r"|one|two|three|four|five|six|seven|eight|nine|ten)"
)
_UNIT = r"(?P<unit>minutes?|mins?|hours?|hrs?|days?|weeks?|months?)"
_CLOCK = (
    r"(?P<clock>(?P<hh>\d{1,2})(?::(?P<mm>\d{2}))?\s*(?P<ampm>a\.?m\.?|p\.?m\.?)(?!\w)"
    r"|(?P<hh24>[01]?\d|2[0-3]):(?P<mm24>[0-5]\d)(?!\d)|noon|midday|midnight)"
)
_DATE_WORD = (
    rf"(?P<word>today|tonight|yesterday(?:\s+{_PART})?|tomorrow(?:\s+{_PART})?"
    rf"|last\s+night|this\s+(?:morning|afternoon|evening)"
    rf"|(?P<rel>(?P<relpre>(?:for|since)\s+(?:the\s+(?:last|past)\s+)?|(?:the\s+)?(?:last|past)\s+"
    rf"|(?P<ahead>in|within)\s+)?{_AMOUNT}\s+{_UNIT}(?P<ago>\s+ago)?)"
    rf"|(?:(?P<wrel>this\s+(?:past|coming)|last|past|this|next|coming)\s+)?"
    rf"(?P<weekday>{'|'.join(WEEKDAYS)})(?:\s+{_PART})?)"
)
_ABSOLUTE = (
    r"(?P<abs>\d{4}-\d{1,2}-\d{1,2}"
    r"|\d{1,2}/\d{1,2}(?:/\d{2,4})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS})\.?(?:,?\s+\d{{4}})?"
    rf"|(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?)"
)
_DATE = re.compile(
    rf"(?<!\w)(?:(?:on|since|from|at|by)\s+(?:the\s+)?)?(?:{_DATE_WORD}|{_ABSOLUTE})(?!\w)",
    re.I,
)
_TIME = re.compile(rf"(?<!\w)(?:(?:at|around|about|by|since|from)\s+)?{_CLOCK}", re.I)
_DATE_HINT = re.compile(
    r"\b(?:today|tonight|yesterday|tomorrow|night|morning|afternoon|evening|noon|midday"
    rf"|midnight|ago|{'|'.join(WEEKDAYS)}|{MONTHS})\b"
    r"|\d\s*(?:a\.?m|p\.?m)\b|\d:\d\d|\d-\d|\d/\d"
    r"|(?:\d|\b(?:an?|one|two|three|four|five|six|seven|eight|nine|ten|few|several|of))"
    r"\s+(?:min|hour|hr|day|week|month)",
    re.I,
)
_JOINER = re.compile(r"^[\s,]*(?:at|around|about|by|from)?[\s,]*$", re.I)


@lru_cache(maxsize=65536)
def _norm_token(token: str) -> str:
    """One token as the gazetteer indexes it: lower case, abbreviations spelt out, singular."""
    word = token.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    word = word.replace("'", "")
    word = SUFFIXES.get(word, ORDINALS.get(word, word))
    if word.isdigit() or len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _phrase(text: str) -> tuple[str, ...]:
    return tuple(_norm_token(t) for t in _TOKEN.findall(text))


@dataclass(frozen=True)
class _Entry:
    entity: str
    value: str
    extractor: str
    street: Street | None = None


def _service_names(service_codes: Any) -> dict[str, list[str]]:
    """code -> surface names, from codes, a code->name(s) mapping, or ServiceType-like objects."""
    names: dict[str, list[str]] = {}
    if isinstance(service_codes, Mapping):
        for code, extra in service_codes.items():
            surfaces = [extra] if isinstance(extra, str) else list(extra or [])
            names[str(code)] = [str(s) for s in surfaces]
        return names
    for item in service_codes:
        if isinstance(item, str):
            names[item] = []
        elif hasattr(item, "code"):
            surfaces = [getattr(item, "name", "") or "", *list(getattr(item, "keywords", []) or [])]
            names[str(item.code)] = [s for s in surfaces if s]
    return names


class EntityExtractor:
    """All rule-based entities of a message; built once, then ``extract`` per turn."""

    def __init__(
        self,
        data: TrainingData,
        city: City,
        service_codes: Iterable[str],
        *,
        timezone: str | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.city = city
        self._tz = ZoneInfo(timezone) if timezone else None
        self._clock = now or (lambda: datetime.now(UTC))
        self._synonyms = dict(data.synonyms)
        self._table: dict[tuple[str, ...], _Entry] = {}
        self._cores: dict[tuple[str, ...], Street] = {}
        self._build_services(data, _service_names(service_codes))
        self._build_gazetteer(city)
        # As Rasa's RegexEntityExtractor: a table extracts only an entity the examples annotate;
        # any other table is a feature of the learned tagger, never an entity of its own.
        annotated = {a.entity for e in data.examples for a in e.entities}
        for name, items in data.lookups.items():
            if name not in annotated:
                continue
            for item in items:
                value = self._synonyms.get(item.lower(), item)
                self._add(_phrase(item), _Entry(name, value, "lookup"))
        self._longest = max((len(k) for k in self._table), default=1)
        self._regexes = [
            (name, re.compile(p, re.I))
            for name, patterns in data.regexes.items()
            if name in annotated and name not in ("phone", "reference")  # our own rules
            for p in patterns
        ]
        self._reference_regexes = [re.compile(p, re.I) for p in data.regexes.get("reference", [])]

    # ---- building ----------------------------------------------------------------------------
    def _add(self, key: tuple[str, ...], entry: _Entry) -> None:
        if key and key not in self._table:  # the first (most authoritative) source wins
            self._table[key] = entry

    def _build_services(self, data: TrainingData, names: dict[str, list[str]]) -> None:
        codes = set(names) or {
            a.value for e in data.examples for a in e.entities if a.entity == "service_type"
        }
        for surface, canonical in data.synonyms.items():
            if canonical in codes:
                self._add(_phrase(surface), _Entry("service_type", canonical, "synonyms"))
        for example in data.examples:
            for a in example.entities:
                if a.entity == "service_type" and a.value in codes:
                    self._add(_phrase(a.text), _Entry("service_type", a.value, "synonyms"))
        for code in sorted(codes):
            self._add(_phrase(code.replace("_", " ")), _Entry("service_type", code, "synonyms"))
            for name in names.get(code, []):
                self._add(_phrase(name), _Entry("service_type", code, "synonyms"))

    def _build_gazetteer(self, city: City) -> None:
        for street in city.streets:
            for n in street.names:
                self._add(_phrase(n), _Entry("street", street.name, "gazetteer", street))
        for place in city.places:
            for n in place.names:
                self._add(_phrase(n), _Entry("place", place.name, "gazetteer"))
        for district in city.districts:
            self._add(_phrase(district.name), _Entry("district", district.name, "gazetteer"))
        cores: dict[tuple[str, ...], set[Street]] = {}
        for street in city.streets:
            for n in street.names:
                key = _phrase(n)
                if len(key) > 1 and key[-1] in STREET_WORDS:
                    cores.setdefault(key[:-1], set()).add(street)
        self._cores = {
            k: next(iter(s))
            for k, s in cores.items()
            if len(s) == 1 and not set(k) <= FUNCTION_WORDS and k not in self._table
        }

    # ---- extraction --------------------------------------------------------------------------
    def extract(self, text: str) -> list[Entity]:
        """Every entity in the text; where two overlap, the longer (then the more specific) wins."""
        if not text or not text.strip():
            return []
        tokens = [(m.start(), m.end(), _norm_token(m.group(0))) for m in _TOKEN.finditer(text)]
        found = [*self._gazetteer(text, tokens), *self._regex_entities(text)]
        if _MANY_DIGITS.search(text) or _HAS_DIGIT_WORD.search(text):
            found += self._references(text)
            found += self._phones(text, found)
        if _DATE_HINT.search(text):
            found += self._dates(text)
        return resolve(found)

    def _gazetteer(self, text: str, tokens: list[tuple[int, int, str]]) -> Iterator[Entity]:
        words = [t[2] for t in tokens]
        n = len(words)
        covered = [False] * n
        for i in range(n):
            for size in range(min(self._longest, n - i), 0, -1):
                entry = self._table.get(tuple(words[i : i + size]))
                if entry is None:
                    continue
                j = i + size
                for k in range(i, j):
                    covered[k] = True
                if entry.entity == "street":
                    yield self._street(text, tokens, i, j, entry.value)
                else:
                    start, end = tokens[i][0], tokens[j - 1][1]
                    yield Entity(
                        entry.entity, entry.value, text[start:end], start, end, entry.extractor
                    )
        yield from self._loose_streets(text, tokens, covered)
        yield from self._corners(text, tokens)

    def _street(
        self, text: str, tokens: list[tuple[int, int, str]], i: int, j: int, name: str
    ) -> Entity:
        """A street, with the house number before it when there is one."""
        if i > 0 and _HOUSE.match(tokens[i - 1][2]):
            number = text[tokens[i - 1][0] : tokens[i - 1][1]].upper()
            start, end = tokens[i - 1][0], tokens[j - 1][1]
            return Entity("street", f"{number} {name}", text[start:end], start, end, "gazetteer")
        start, end = tokens[i][0], tokens[j - 1][1]
        return Entity("street", name, text[start:end], start, end, "gazetteer")

    def _street_at(self, words: list[str], i: int) -> tuple[Street, int] | None:
        """A street (full name or unambiguous core, 'elm') starting at token i."""
        for size in range(min(4, len(words) - i), 0, -1):
            key = tuple(words[i : i + size])
            entry = self._table.get(key)
            if entry is not None and entry.street is not None:
                return entry.street, i + size
            if key in self._cores:
                return self._cores[key], i + size
        return None

    def _loose_streets(
        self, text: str, tokens: list[tuple[int, int, str]], covered: list[bool]
    ) -> Iterator[Entity]:
        """'on Elm' (a core name after a location word) and 'Elmm Street' (one typo)."""
        words = [t[2] for t in tokens]
        for i, word in enumerate(words):
            if covered[i]:
                continue
            before = words[i - 1] if i > 0 else ""
            if before in LOCATION_WORDS or _HOUSE.match(before):
                for size in range(min(3, len(words) - i), 0, -1):
                    street = self._cores.get(tuple(words[i : i + size]))
                    if street is not None:
                        yield self._street(text, tokens, i, i + size, street.name)
                        break
            if i > 0 and not covered[i - 1] and street_word(word):
                for size in (1, 2):
                    if i - size < 0 or covered[i - size]:
                        break
                    span = text[tokens[i - size][0] : tokens[i][1]]
                    street = self.city.find_street(span)
                    if street is not None:
                        yield self._street(text, tokens, i - size, i + 1, street.name)
                        break

    def _corners(self, text: str, tokens: list[tuple[int, int, str]]) -> Iterator[Entity]:
        words = [t[2] for t in tokens]
        for i, word in enumerate(words):
            if word not in CORNER_WORDS or i + 2 >= len(words) or words[i + 1] != "of":
                continue
            first = self._street_at(words, i + 2)
            if first is None or first[1] >= len(words) or words[first[1]] not in JOIN_WORDS:
                continue
            second = self._street_at(words, first[1] + 1)
            if second is None or second[0] == first[0]:
                continue
            start, end = tokens[i][0], tokens[second[1] - 1][1]
            value = f"{first[0].name} & {second[0].name}"
            yield Entity("street", value, text[start:end], start, end, "gazetteer")

    def _regex_entities(self, text: str) -> Iterator[Entity]:
        for name, pattern in self._regexes:
            for m in pattern.finditer(text):
                if m.end() > m.start():
                    value = self._synonyms.get(m.group(0).lower(), m.group(0))
                    yield Entity(name, value, m.group(0), m.start(), m.end(), "regex")

    # ---- references and phones --------------------------------------------------------------
    def _references(self, text: str) -> list[Entity]:
        found: list[Entity] = []
        for view, offsets in _digit_views(text):
            for m in _REFERENCE.finditer(view):
                value = _reference_value(m.group("digits"), padded=True)
                if value:
                    found.append(_mapped("reference", value, text, offsets, m.start(), m.end()))
            for pattern in self._reference_regexes:
                for m in pattern.finditer(view):
                    value = _reference_value(m.group(0), padded=False)
                    if value:
                        found.append(_mapped("reference", value, text, offsets, m.start(), m.end()))
            if not _PHONE_CONTEXT.search(text):
                year_now = self._now().year
                for m in _BARE_REFERENCE.finditer(view):
                    value = _reference_value(m.group("digits"), padded=False)
                    if value and 2020 <= int(value[4:8]) <= year_now + 1:
                        found.append(_mapped("reference", value, text, offsets, m.start(), m.end()))
        return found

    def _phones(self, text: str, found: list[Entity]) -> list[Entity]:
        import phonenumbers

        phones: list[Entity] = []
        for view, offsets in _digit_views(text):
            for match in phonenumbers.PhoneNumberMatcher(view, "US"):
                value = phonenumbers.format_number(
                    match.number, phonenumbers.PhoneNumberFormat.E164
                )
                phones.append(_mapped("phone", value, text, offsets, match.start, match.end))
            if not phones and self.city.area_code:
                phones += self._local_phones(text, view, offsets)
        return phones

    def _local_phones(self, text: str, view: str, offsets: list[int] | None) -> list[Entity]:
        """ "call me on 555 0142": a seven-digit number said with a phone word, or alone, is
        local, in the city's area code."""
        import phonenumbers

        alone = len(_LOCAL_NUMBER.sub("", view).strip(" .,!-")) <= LOCAL_NUMBER_CONTEXT
        if not (_PHONE_CONTEXT.search(view) or alone):
            return []
        phones = []
        for m in _LOCAL_NUMBER.finditer(view):
            number = phonenumbers.parse(f"{self.city.area_code}{m.group(1)}{m.group(2)}", "US")
            if phonenumbers.is_valid_number(number):
                value = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                phones.append(_mapped("phone", value, text, offsets, m.start(), m.end()))
        return phones

    # ---- dates and times ---------------------------------------------------------------------
    def _now(self) -> datetime:
        """The wall-clock time in the city: an aware clock reading is moved to its zone."""
        now = self._clock()
        if now.tzinfo is not None:
            now = now.astimezone(self._tz) if self._tz else now.astimezone()
        return now.replace(tzinfo=None)

    def _dates(self, text: str) -> list[Entity]:
        now = self._now()
        dates: list[tuple[int, int, date, str]] = []
        for m in _DATE.finditer(text):
            resolved = self._resolve_date(m, now)
            if resolved is not None:
                dates.append(
                    (m.start(), m.end(), resolved, "rules" if m.group("word") else "dateparser")
                )
        found: list[Entity] = []
        used: set[int] = set()
        for m in _TIME.finditer(text):
            clock = _clock(m)
            if clock is None or any(s <= m.start() < e for s, e, _, _ in dates):
                continue
            start, end, day = m.start(), m.end(), now.date()
            for k, (ds, de, dday, _) in enumerate(dates):
                if _JOINER.match(text[de:start]) or _JOINER.match(text[end:ds]):
                    start, end, day = min(start, ds), max(end, de), dday
                    used.add(k)
                    break
            moment = datetime.combine(day, clock)
            found.append(
                Entity(
                    "time",
                    moment.isoformat(timespec="minutes"),
                    text[start:end],
                    start,
                    end,
                    "rules",
                )
            )
        for k, (ds, de, dday, how) in enumerate(dates):
            if k not in used:
                found.append(Entity("date", dday.isoformat(), text[ds:de], ds, de, how))
        return found

    def _resolve_date(self, m: re.Match[str], now: datetime) -> date | None:
        today = now.date()
        said_since = re.match(r"since\b", m.group(0), re.I) is not None
        if m.group("abs"):
            return _absolute_date(m.group("abs"), now, back=said_since)
        word = re.sub(r"\s+", " ", m.group("word").lower())
        if m.group("weekday"):
            return _weekday_date(
                today, WEEKDAYS.index(m.group("weekday").lower()), m.group("wrel"), said_since
            )
        if m.group("rel"):
            counted = re.match(r"(?:since|for|from)\b", m.group(0), re.I)
            if not (m.group("relpre") or m.group("ago") or counted):
                return None  # "3 days" alone says how long, not when
            n = _amount(m.group("n"))
            unit = m.group("unit").lower()
            sign = 1 if m.group("ahead") else -1  # "in 2 days" ahead, "2 days ago" back
            if unit.startswith(("min", "h")):
                minutes = n if unit.startswith("min") else 60 * n
                return (now + sign * timedelta(minutes=minutes)).date()
            days = n * {"d": 1, "w": 7, "m": 30}[unit[0]]
            return today + sign * timedelta(days=days)
        if word.startswith("yesterday") or word == "last night":
            return today - timedelta(days=1)
        if word.startswith("tomorrow"):
            return today + timedelta(days=1)
        return today  # today, tonight, this morning/afternoon/evening


def _weekday_date(today: date, target: int, qualifier: str | None, since: bool) -> date:
    """A weekday as residents mean it: ahead unless "last", "past" or "since" points back.

    Alone or with "this" it is the next such day, today included ("on Thursday" said on a
    Thursday is today); with "next" or "coming" it is the next such day after today ("next
    Thursday" said on a Thursday is in 7 days, "next Monday" said on a Thursday in 4).
    "last" and "past" mean the one before today, "since" the latest one up to today.
    """
    word = re.sub(r"\s+", " ", (qualifier or "").lower())
    if word in ("last", "past", "this past") or since:
        back = (today.weekday() - target) % 7
        return today - timedelta(days=back or (0 if since else 7))
    ahead = (target - today.weekday()) % 7
    if word in ("next", "coming", "this coming") and ahead == 0:
        ahead = 7
    return today + timedelta(days=ahead)


def _amount(raw: str) -> int:
    raw = re.sub(r"\s+", " ", raw.lower())
    return int(raw) if raw.isdigit() else _NUMBER_WORDS.get(raw, 1)


def _clock(m: re.Match[str]) -> Any:
    from datetime import time

    word = m.group("clock").lower()
    if word in ("noon", "midday"):
        return time(12, 0)
    if word == "midnight":
        return time(0, 0)
    if m.group("hh24") is not None:
        return time(int(m.group("hh24")), int(m.group("mm24")))
    hour, minute = int(m.group("hh")), int(m.group("mm") or 0)
    if not 1 <= hour <= 12 or minute > 59:
        return None
    pm = m.group("ampm").lower().startswith("p")
    return time(hour % 12 + (12 if pm else 0), minute)


def _absolute_date(span: str, now: datetime, *, back: bool) -> date | None:
    """ISO dates directly, day and month by our rules, anything else through dateparser.

    ``back``: the date was said with "since", so a date without a year is not in the future.
    """
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", span)
    if iso:
        try:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        except ValueError:
            return None
    own = _month_date(span, now, back=back)
    if own is not None:
        return own
    import dateparser  # slow to import and ~5 ms a call: only for spans our rules can't read

    parsed = dateparser.parse(
        span,
        languages=["en"],
        settings={
            "PREFER_DATES_FROM": "past" if back else "current_period",
            "RELATIVE_BASE": now,
            "DATE_ORDER": "MDY",
            "RETURN_AS_TIMEZONE_AWARE": False,
            "STRICT_PARSING": False,
        },
    )
    return parsed.date() if parsed else None


_MONTH_NUMBER = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}


def _month_date(span: str, now: datetime, *, back: bool) -> date | None:
    """'3 May', 'May 3rd, 2025', '5/3', '05/03/2026' (US order).

    Without a year, the occurrence nearest today (on 30 December "4 January" is next week,
    on 6 May "3 May" was three days ago; a tie goes ahead), or the latest one up to today
    when said with "since".
    """
    words = re.findall(r"[a-z]+|\d+", span.lower())
    words = [w for w in words if w not in ("st", "nd", "rd", "th", "of")]
    month = next((_MONTH_NUMBER[w] for w in words if w in _MONTH_NUMBER), None)
    numbers = [int(w) for w in words if w.isdigit()]
    if month is not None and numbers:
        day, year = numbers[0], (numbers[1] if len(numbers) > 1 else None)
    elif month is None and "/" in span and len(numbers) in (2, 3):
        month, day = numbers[0], numbers[1]
        year = numbers[2] if len(numbers) == 3 else None
        if year is not None and year < 100:
            year += 2000
    else:
        return None
    if year is not None:
        try:
            return date(year, month, day)
        except ValueError:
            return None
    today = now.date()
    candidates = []
    for y in (today.year - 1, today.year, today.year + 1):
        try:
            candidates.append(date(y, month, day))
        except ValueError:  # 29 February outside a leap year, 31 April
            continue
    if back:
        candidates = [c for c in candidates if c <= today]
    if not candidates:
        return None
    return min(candidates, key=lambda c: (abs((c - today).days), c < today))


def _digit_views(text: str) -> list[tuple[str, list[int] | None]]:
    """The text, plus (when it has spoken digits) a copy with them as digits and an offset map."""
    views: list[tuple[str, list[int] | None]] = [(text, None)]
    if not _HAS_DIGIT_WORD.search(text):
        return views
    out: list[str] = []
    offsets: list[int] = []
    cursor = 0
    changed = False
    for run in _DIGIT_WORD_RUN.finditer(text):
        out.append(text[cursor : run.start()])
        offsets.extend(range(cursor, run.start()))
        for token in re.finditer(r"\w+", run.group(0)):
            digit = DIGIT_WORDS.get(token.group(0).lower(), token.group(0))
            position = run.start() + token.start()
            if out and out[-1] and not out[-1].endswith(" "):
                out.append(" ")
                offsets.append(position)
            out.append(digit)
            offsets.extend([position] * (len(digit) - 1) + [run.start() + token.end() - 1])
            changed = changed or digit != token.group(0)
        out.append(" ")
        offsets.append(run.end() - 1)
        cursor = run.end()
    out.append(text[cursor:])
    offsets.extend(range(cursor, len(text)))
    if changed:
        views.append(("".join(out), offsets))
    return views


def _mapped(
    entity: str, value: str, text: str, offsets: list[int] | None, start: int, end: int
) -> Entity:
    """An entity found in a digit view, located back in the original text."""
    if offsets is not None:
        start, end = offsets[start], offsets[end - 1] + 1
    raw = text[start:end]
    stripped = raw.rstrip(" ,.-")
    return Entity(entity, value, stripped, start, start + len(stripped), "regex")


def _reference_value(raw: str, *, padded: bool) -> str | None:
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 10:
        return f"REQ-{digits[:4]}-{digits[4:]}"
    parts = re.findall(r"\d+", raw)
    if padded and len(parts) == 2 and len(parts[0]) == 4 and 1 <= len(parts[1]) <= 6:
        return f"REQ-{parts[0]}-{parts[1].zfill(6)}"
    return None


def resolve(found: list[Entity]) -> list[Entity]:
    """Where two entities overlap, the longer (then the more specific) wins."""
    found.sort(key=lambda e: (-(e.end - e.start), -PRIORITY.get(e.entity, 0), e.start))
    chosen: list[Entity] = []
    for entity in found:
        if all(entity.end <= c.start or entity.start >= c.end for c in chosen):
            chosen.append(entity)
    return sorted(chosen, key=lambda e: e.start)
