"""The demo city's gazetteer: districts, streets and places, found by name or by a map pin."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process

DATA = Path(__file__).with_name("data") / "city.yml"
SUFFIXES = {
    "st": "street",
    "str": "street",
    "ave": "avenue",
    "av": "avenue",
    "rd": "road",
    "ln": "lane",
    "dr": "drive",
    "sq": "square",
    "blvd": "boulevard",
    "cres": "crescent",
    "ter": "terrace",
    "terr": "terrace",
    "pl": "place",
    "cl": "close",
    "pde": "parade",
    "gr": "grove",
    "wy": "way",
}
_HOUSE_NUMBER = re.compile(r"^\s*(?:no\.?\s*)?\d{1,5}[a-z]?\b[\s,]*", re.I)
BOUNDS_MARGIN_DEG = 0.005
FUZZY_CUTOFF = 85


def normalise(text: str) -> str:
    """Lower case, no punctuation, abbreviations spelt out: 'Elm St.' -> 'elm street'."""
    words = re.findall(r"[\w']+", text.lower())
    return " ".join(SUFFIXES.get(w, w) for w in words)


def strip_house_number(text: str) -> str:
    return _HOUSE_NUMBER.sub("", text, count=1)


@dataclass(frozen=True)
class District:
    name: str
    centre: dict[str, float]


@dataclass(frozen=True)
class Street:
    name: str
    aliases: tuple[str, ...]
    district: str
    points: tuple[dict[str, float], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Place:
    name: str
    aliases: tuple[str, ...]
    district: str
    address: str
    point: dict[str, float]

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


class City:
    def __init__(
        self,
        name: str,
        bounds: dict[str, float],
        districts: list[District],
        streets: list[Street],
        places: list[Place],
    ) -> None:
        self.name = name
        self.bounds = bounds
        self.districts = districts
        self.streets = streets
        self.places = places
        self._streets_by_name = {normalise(n): s for s in streets for n in s.names}

    @classmethod
    def load(cls, path: Path | None = None) -> City:
        raw = yaml.safe_load((path or DATA).read_text(encoding="utf-8"))
        return cls(
            name=raw["city"],
            bounds=raw["bounds"],
            districts=[District(d["name"], d["centre"]) for d in raw["districts"]],
            streets=[
                Street(s["name"], tuple(s.get("aliases") or ()), s["district"], tuple(s["points"]))
                for s in raw["streets"]
            ],
            places=[
                Place(
                    p["name"],
                    tuple(p.get("aliases") or ()),
                    p["district"],
                    p["address"],
                    p["point"],
                )
                for p in raw["places"]
            ],
        )

    def find_street(self, text: str) -> Street | None:
        """The street a resident means, tolerating abbreviations, a house number and a typo."""
        key = normalise(strip_house_number(text))
        if not key:
            return None
        if key in self._streets_by_name:
            return self._streets_by_name[key]
        for name, street in sorted(self._streets_by_name.items(), key=lambda kv: -len(kv[0])):
            if re.search(rf"\b{re.escape(name)}\b", key):
                return street
        match = process.extractOne(
            key, list(self._streets_by_name), scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF
        )
        return self._streets_by_name[match[0]] if match else None

    def suggest_streets(self, text: str, n: int = 3) -> list[str]:
        key = normalise(strip_house_number(text))
        matches = process.extract(key, list(self._streets_by_name), scorer=fuzz.WRatio, limit=n * 2)
        names: list[str] = []
        for name, score, _ in matches:
            street = self._streets_by_name[name].name
            if score >= 60 and street not in names:
                names.append(street)
        return names[:n]

    def place(self, name: str) -> Place | None:
        key = normalise(name)
        return next((p for p in self.places if key in {normalise(n) for n in p.names}), None)

    def district_of(self, name: str) -> District | None:
        key = normalise(name)
        return next((d for d in self.districts if normalise(d.name) == key), None)

    def inside(self, lat: float, lon: float) -> bool:
        b, m = self.bounds, BOUNDS_MARGIN_DEG
        return (
            b["min_lat"] - m <= lat <= b["max_lat"] + m
            and b["min_lon"] - m <= lon <= b["max_lon"] + m
        )

    def nearest(self, lat: float, lon: float) -> tuple[Street, District, float] | None:
        """The street nearest a map pin, or None when the pin is outside the city."""
        if not self.inside(lat, lon):
            return None
        distance, street = min(
            ((metres(lat, lon, p["lat"], p["lon"]), s) for s in self.streets for p in s.points),
            key=lambda pair: pair[0],
        )
        district = self.district_of(street.district)
        if district is None:
            return None
        return street, district, distance
