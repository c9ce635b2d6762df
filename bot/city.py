"""The demo city's gazetteer: districts, streets and places, found by name or by a map pin.

Residents type street names the way they say them ("12 elm st", "Mian Street", "fifth st"),
so lookups compare normalised forms (suffix abbreviations spelt out, ordinals as digits) and
forgive one typo; a map pin is matched to the nearest street segment, not the nearest point.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from bot.office_hours import OfficeHours

DATA = Path(__file__).with_name("data") / "city.yml"
SUFFIXES = {
    "st": "street",
    "str": "street",
    "ave": "avenue",
    "av": "avenue",
    "avn": "avenue",
    "rd": "road",
    "ln": "lane",
    "dr": "drive",
    "drv": "drive",
    "sq": "square",
    "blvd": "boulevard",
    "bvd": "boulevard",
    "cres": "crescent",
    "ter": "terrace",
    "terr": "terrace",
    "pl": "place",
    "cl": "close",
    "pde": "parade",
    "gr": "grove",
    "gro": "grove",
    "wy": "way",
    "wk": "walk",
    "ct": "court",
    "hwy": "highway",
    "pkwy": "parkway",
}
STREET_WORDS = frozenset(SUFFIXES.values())
ORDINALS = {
    "first": "1st",
    "second": "2nd",
    "third": "3rd",
    "fourth": "4th",
    "fifth": "5th",
    "sixth": "6th",
    "seventh": "7th",
    "eighth": "8th",
    "ninth": "9th",
    "tenth": "10th",
    "eleventh": "11th",
    "twelfth": "12th",
}
_WORD = re.compile(r"\w+(?:['’]\w+)*")
_HOUSE_NUMBER = re.compile(r"^\s*(?:(?:no\.?|number|#)\s*)?\d{1,5}[a-z]?\b[\s,]*", re.I)
_FILLER = re.compile(
    r"^(?:it'?s\s+|it\s+is\s+|i'?m\s+|i\s+am\s+)?(?:on|at|in|near|by|along|outside|off)\s+", re.I
)
BOUNDS_MARGIN_M = 500.0
FUZZY_MIN_CHARS = 5  # below this, one edit turns a name into another word ("oak" -> "oat")
SUGGEST_CUTOFF = 60.0
EARTH_RADIUS_M = 6_371_000.0


def normalise(text: str) -> str:
    """Lower case, no punctuation, abbreviations spelt out: 'Elm St.' -> 'elm street'."""
    words = _WORD.findall(text.lower())
    return " ".join(SUFFIXES.get(w, ORDINALS.get(w, w)) for w in words)


def street_word(word: str) -> str | None:
    """'street' for 'street', 'St' or a one-slip spelling ('stret', 'raod'); else None."""
    word = word.lower()
    full = SUFFIXES.get(word, word)
    if full in STREET_WORDS:
        return full
    if len(word) < 4:
        return None
    near = [w for w in STREET_WORDS if len(w) >= 4 and OSA.distance(word, w, score_cutoff=1) <= 1]
    return near[0] if len(near) == 1 else None


def _fix_street_word(key: str) -> str:
    """The last word of a street text with its street word spelt right: 'elm stret'."""
    words = key.split()
    if len(words) > 1 and words[-1] not in STREET_WORDS:
        fixed = street_word(words[-1])
        if fixed:
            return " ".join([*words[:-1], fixed])
    return key


def strip_house_number(text: str) -> str:
    return _HOUSE_NUMBER.sub("", text, count=1)


def house_number(text: str) -> str | None:
    """The house number a street text starts with ('12b Elm St' -> '12B'), if any."""
    match = re.match(r"^\s*(?:(?:no\.?|number|#)\s*)?(\d{1,5}[a-z]?)\b", text, re.I)
    return match.group(1).upper() if match else None


@dataclass(frozen=True)
class District:
    name: str
    centre: dict[str, float] = field(compare=False)


@dataclass(frozen=True)
class Street:
    name: str
    aliases: tuple[str, ...]
    district: str
    points: tuple[dict[str, float], ...] = field(compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Place:
    name: str
    aliases: tuple[str, ...]
    district: str
    address: str
    point: dict[str, float] = field(compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def _segment_metres(
    lat: float, lon: float, a: dict[str, float], b: dict[str, float], coslat: float
) -> float:
    """Distance from a point to the segment a-b, on a local flat projection (city scale)."""
    k = math.radians(1) * EARTH_RADIUS_M
    ax, ay = (a["lon"] - lon) * coslat * k, (a["lat"] - lat) * k
    bx, by = (b["lon"] - lon) * coslat * k, (b["lat"] - lat) * k
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length2))
    return math.hypot(ax + t * dx, ay + t * dy)


def _bounds(raw: Any) -> dict[str, float]:
    """min/max lat/lon from the forms a gazetteer may use."""
    if isinstance(raw, dict):
        if {"min_lat", "max_lat", "min_lon", "max_lon"} <= raw.keys():
            return {k: float(raw[k]) for k in ("min_lat", "max_lat", "min_lon", "max_lon")}
        if {"south", "north", "west", "east"} <= raw.keys():
            return {
                "min_lat": float(raw["south"]),
                "max_lat": float(raw["north"]),
                "min_lon": float(raw["west"]),
                "max_lon": float(raw["east"]),
            }
    if isinstance(raw, list) and len(raw) == 2:
        (lat1, lon1), (lat2, lon2) = (
            (p["lat"], p["lon"]) if isinstance(p, dict) else p for p in raw
        )
        return {
            "min_lat": min(lat1, lat2),
            "max_lat": max(lat1, lat2),
            "min_lon": min(lon1, lon2),
            "max_lon": max(lon1, lon2),
        }
    raise ValueError(f"city bounds must give min_lat, max_lat, min_lon, max_lon; got {raw!r}")


def _core(key: str) -> str:
    words = key.split()
    return " ".join(words[:-1]) if len(words) > 1 and words[-1] in STREET_WORDS else key


def _likeness(query: str, name: str, **_: Any) -> float:
    """0-100: the whole name or its core ('elm' of 'elm street'), typed with a few slips."""
    score = max(fuzz.ratio(query, name), fuzz.ratio(_core(query), _core(name)))
    if len(query) >= 4:
        score = max(score, 0.9 * fuzz.partial_ratio(query, name))
    return score


class City:
    def __init__(
        self,
        name: str,
        bounds: dict[str, float],
        districts: list[District],
        streets: list[Street],
        places: list[Place],
        office_hours: OfficeHours | None = None,
        area_code: str | None = None,
    ) -> None:
        self.name = name
        self.area_code = area_code  # of a local seven-digit phone number
        self.office_hours = office_hours or OfficeHours.parse(None)
        self.bounds = _bounds(bounds)
        self.districts = districts
        self.streets = streets
        self.places = places
        known = {d.name for d in districts}
        for item in [*streets, *places]:
            if item.district not in known:
                raise ValueError(f"{item.name}: unknown district {item.district!r}")
        self._districts = {normalise(d.name): d for d in districts}
        self._places = {normalise(n): p for p in places for n in p.names}
        self._streets_by_name: dict[str, Street] = {}
        for street in streets:
            for n in street.names:
                self._streets_by_name.setdefault(normalise(n), street)
        # "Elm" alone means Elm Street when no other street is called Elm-something.
        cores: dict[str, set[Street]] = {}
        for key, street in self._streets_by_name.items():
            words = key.split()
            if len(words) > 1 and words[-1] in STREET_WORDS:
                cores.setdefault(" ".join(words[:-1]), set()).add(street)
        self._street_cores = {c: next(iter(s)) for c, s in cores.items() if len(s) == 1}
        self._fuzzy_keys = [k for k in self._streets_by_name if len(k) >= FUZZY_MIN_CHARS]

    @classmethod
    def load(cls, path: Path | None = None) -> City:
        raw = yaml.safe_load((path or DATA).read_text(encoding="utf-8"))
        return cls(
            name=raw["city"],
            bounds=raw["bounds"],
            districts=[District(d["name"], dict(d["centre"])) for d in raw["districts"]],
            streets=[
                Street(
                    s["name"],
                    tuple(s.get("aliases") or ()),
                    s["district"],
                    tuple(dict(p) for p in s["points"]),
                )
                for s in raw.get("streets") or []
            ],
            places=[
                Place(
                    p["name"],
                    tuple(p.get("aliases") or ()),
                    p["district"],
                    p.get("address", ""),
                    dict(p["point"]),
                )
                for p in raw.get("places") or []
            ],
            office_hours=OfficeHours.parse(raw.get("office_hours")),
            area_code=str(raw["area_code"]) if raw.get("area_code") else None,
        )

    def find_street(self, text: str) -> Street | None:
        """The street a resident means, tolerating abbreviations, a house number and a typo."""
        cleaned = strip_house_number(_FILLER.sub("", text.strip(), count=1))
        key = normalise(cleaned)
        if not key:
            return None
        exact = self._streets_by_name.get(key) or self._street_cores.get(key)
        if exact:
            return exact
        padded = f" {key} "
        mentioned = [
            (padded.find(f" {name} "), -len(name), name)
            for name in self._streets_by_name
            if f" {name} " in padded
        ]
        if mentioned:  # the first street named, and the longest name there
            return self._streets_by_name[min(mentioned)[2]]
        return self._fuzzy_street(_fix_street_word(key).split())

    def _fuzzy_street(self, words: list[str]) -> Street | None:
        """One edit (OSA: a transposition counts as one) within any window of the text."""
        found: set[Street] = set()
        lengths = {len(k.split()) for k in self._fuzzy_keys}
        for size in sorted(lengths):
            for i in range(len(words) - size + 1):
                window = " ".join(words[i : i + size])
                if len(window) < FUZZY_MIN_CHARS:
                    continue
                for key, _score, _ in process.extract(
                    window, self._fuzzy_keys, scorer=OSA.distance, score_cutoff=1, limit=None
                ):
                    found.add(self._streets_by_name[key])
        return next(iter(found)) if len(found) == 1 else None

    def suggest_streets(self, text: str, n: int = 3) -> list[str]:
        """Street names that look like the text, best first, for 'did you mean ...?'."""
        key = normalise(strip_house_number(text))
        if not key or n <= 0:
            return []
        matches = process.extract(key, list(self._streets_by_name), scorer=_likeness, limit=None)
        names: list[str] = []
        for name, score, _ in matches:
            street = self._streets_by_name[name].name
            if score >= SUGGEST_CUTOFF and street not in names:
                names.append(street)
            if len(names) == n:
                break
        return names

    def place(self, name: str) -> Place | None:
        """A named place by its name or an alias ('the library' style aliases included)."""
        return self._places.get(normalise(name))

    def district_of(self, name: str) -> District | None:
        """A district by its name; or the district a named street or place lies in."""
        key = normalise(name)
        if key in self._districts:
            return self._districts[key]
        owner: Street | Place | None = self._places.get(key) or self.find_street(name)
        return self._districts.get(normalise(owner.district)) if owner else None

    def inside(self, lat: float, lon: float, margin_m: float = BOUNDS_MARGIN_M) -> bool:
        b = self.bounds
        dlat = margin_m / (math.radians(1) * EARTH_RADIUS_M)
        coslat = max(math.cos(math.radians((b["min_lat"] + b["max_lat"]) / 2)), 1e-6)
        dlon = dlat / coslat
        return (
            b["min_lat"] - dlat <= lat <= b["max_lat"] + dlat
            and b["min_lon"] - dlon <= lon <= b["max_lon"] + dlon
        )

    def nearest(self, lat: float, lon: float) -> tuple[Street, District, float] | None:
        """The street nearest a map pin, its district and the distance in metres.

        None when the pin is outside the city (bounds plus a margin) or not a number.
        """
        if not (math.isfinite(lat) and math.isfinite(lon)) or not self.inside(lat, lon):
            return None
        coslat = math.cos(math.radians(lat))
        best: tuple[float, Street] | None = None
        for street in self.streets:
            points = street.points
            pairs = itertools.pairwise(points) if len(points) > 1 else [(points[0],) * 2]
            for a, b in pairs:
                d = _segment_metres(lat, lon, a, b, coslat)
                if best is None or d < best[0]:
                    best = (d, street)
        if best is None:
            return None
        distance, street = best
        district = self._districts.get(normalise(street.district))
        return (street, district, distance) if district else None
