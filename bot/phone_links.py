"""Phone numbers in what the assistant says, so a screen can make them tap-to-call links.

Office numbers are found by ``phonenumbers`` (possible numbers, so a local "555-0131" counts
as well as "(206) 555-0142" or "+1 555 010 2030"); the three-digit service codes (311, 911,
988 and the other N11 codes) by rule. Digits that are part of something else stay text:
a reference number (REQ-2026-000123), a house number (311 Elm Street), an amount ($911),
a room or bus number, a date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from bot.city import STREET_WORDS, SUFFIXES

REGION = "US"  # how numbers without a country code are read, as the entity extractor does
_STREET = "|".join(sorted(STREET_WORDS | set(SUFFIXES), key=len, reverse=True))
_SHORT_CODE = re.compile(r"(?<![\w$€£#.,/+-])(?:[2-9]11|988)(?![\w%]|[.,/:-]\d)")
# "311 Elm Street", "911 N Harbour Rd", "311 dollars", "room 311": not numbers to call.
_AFTER = re.compile(
    rf"^\s+(?:(?:[A-Z][\w'-]*\.?|N|S|E|W)\s+){{0,3}}(?:{_STREET})\b"
    r"|^\s*(?:dollars?|cents?|days?|weeks?|months?|years?|hours?|minutes?|people|homes"
    r"|households|feet|ft|miles?|km|metres?|meters?|kg|pounds?|lbs?|percent|items?)\b",
    re.I,
)
_BEFORE = re.compile(
    r"\b(?:room|suite|unit|apt|apartment|flat|floor|route|bus|no|number|page|box)\.?\s*$", re.I
)
_GLUED = re.compile(r"[\w]|[-/][\w]")  # REQ-2026-000123: the digits belong to a word


@dataclass(frozen=True)
class PhoneSpan:
    start: int
    end: int
    tel: str  # a tel: URI


@lru_cache(maxsize=4096)
def phone_spans(text: str) -> tuple[PhoneSpan, ...]:
    """Every callable number in ``text``, in order, never overlapping.

    About 1 ms for a 300-character answer (the matcher); cached, since a reply is serialised
    more than once (stored for replays, then sent) and the same answers recur.
    """
    spans: list[PhoneSpan] = []
    for match in phonenumbers.PhoneNumberMatcher(text, REGION, phonenumbers.Leniency.POSSIBLE):
        if _glued(text, match.start, match.end):
            continue
        raw = match.raw_string.strip().lstrip("+")
        if len(re.sub(r"\D", "", raw)) < 10 and not re.search(r"\D", raw):
            continue  # a bare run of 7 digits is a number of something, not a phone
        if re.search(r"\D", raw) and re.search(r"\d{5,}", raw):
            continue  # grouped 4-6 like "2026-000123": a reference, not a phone
        spans.append(PhoneSpan(match.start, match.end, _tel(match.number)))
    for m in _SHORT_CODE.finditer(text):
        if any(s.start <= m.start() < s.end for s in spans):
            continue
        if _AFTER.match(text[m.end() :]) or _BEFORE.search(text[: m.start()]):
            continue
        spans.append(PhoneSpan(m.start(), m.end(), f"tel:{m.group(0)}"))
    return tuple(sorted(spans, key=lambda s: s.start))


def _glued(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 2) : start][::-1]
    return bool(_GLUED.match(before) or _GLUED.match(text[end : end + 2]))


def _tel(number: phonenumbers.PhoneNumber) -> str:
    """E.164 for a full number; the digits alone for a local one ("555-0131" -> tel:5550131)."""
    national = str(number.national_number)
    if phonenumbers.is_possible_number(number) and len(national) >= 10:
        uri = f"tel:{phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)}"
    else:
        uri = f"tel:{national}"
    return f"{uri};ext={number.extension}" if number.extension else uri
