"""The gazetteer: streets as residents type them, map pins, districts."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bot.city import City, metres

CITY = City.load()


@pytest.mark.parametrize(
    ("text", "street"),
    [
        ("Elm Street", "Elm Street"),
        ("elm st", "Elm Street"),
        ("Elm St.", "Elm Street"),
        ("12 Elm St", "Elm Street"),
        ("no. 12b elm street", "Elm Street"),
        ("ELM", "Elm Street"),  # the core name alone, when only one street has it
        ("Oak Ave", "Oak Avenue"),
        ("Station Rd", "Station Road"),
        ("Church Ln", "Church Lane"),
        ("Maple Dr", "Maple Drive"),
        ("Market Sq", "Market Square"),
        ("the square", "Market Square"),  # an alias
        ("fifth st", "5th Street"),
        ("1st Ave", "1st Avenue"),
        ("Salt Marsh Rd", "Saltmarsh Road"),
        ("it's on Oak Avenue near the school", "Oak Avenue"),
        ("Oak Avenue & Elm Street", "Oak Avenue"),  # the first named
        ("Cedar Hill Road", "Cedar Hill Road"),
        # one typo, a transposition included
        ("Elmm Street", "Elm Street"),
        ("Mian Street", "Main Street"),
        ("Lighthouse Raod", "Lighthouse Road"),
        ("Chesnut St", "Chestnut Street"),
        ("12 Elmm Stret", "Elm Street"),  # a slip in the name and one in the street word
        ("Harbour Raod", "Harbour Road"),
    ],
)
def test_find_street(text: str, street: str) -> None:
    found = CITY.find_street(text)
    assert found is not None, text
    assert found.name == street


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "zzz",
        "Nowhere Boulevard",
        "Chesnutt Avenue",
        "Elmmm Street",
        "🚧",
        "улица",
        "Elmxyz Parkway",
        "x" * 10_000,
    ],
)
def test_unknown_streets_are_none(text: str) -> None:
    assert CITY.find_street(text) is None


def test_suggestions_look_like_the_text() -> None:
    assert CITY.suggest_streets("Lighthose")[0] == "Lighthouse Road"
    assert CITY.suggest_streets("oak") == ["Oak Avenue"]
    assert len(CITY.suggest_streets("harbor rd", n=3)) <= 3
    assert CITY.suggest_streets("harbor rd")[0] == "Harbour Road"
    assert CITY.suggest_streets("xyzzy") == []
    assert CITY.suggest_streets("") == []


def test_nearest_street_to_a_pin() -> None:
    street, district, distance = CITY.nearest(47.6037, -122.3320) or (None, None, None)
    assert street is not None and street.name == "Elm Street"
    assert district is not None and district.name == "Old Town"
    assert distance is not None and distance < 5
    # between two points of a street, the segment (not the nearest vertex) counts
    a, b = street.points[0], street.points[1]
    mid_lat, mid_lon = (a["lat"] + b["lat"]) / 2, (a["lon"] + b["lon"]) / 2
    found = CITY.nearest(mid_lat, mid_lon)
    assert found is not None and found[0].name == "Elm Street" and found[2] < 5


def test_pins_outside_the_city_are_none() -> None:
    assert CITY.nearest(0.0, 0.0) is None
    assert CITY.nearest(47.70, -122.33) is None  # 6 km north of the bounds
    assert CITY.nearest(math.nan, -122.33) is None
    b = CITY.bounds
    # just outside the bounds, within the margin: still the city
    assert CITY.nearest(b["max_lat"] + 0.001, -122.33) is not None


def test_every_street_point_is_in_its_own_district() -> None:
    """The gazetteer's own promise: a pin on a street gives that street's district."""
    for street in CITY.streets:
        for p in street.points:
            found = CITY.nearest(p["lat"], p["lon"])
            assert found is not None
            assert found[2] < 1 or found[0].district == street.district


def test_districts_by_name_or_by_what_lies_in_them() -> None:
    assert (CITY.district_of("old town") or pytest.fail()).name == "Old Town"
    assert (CITY.district_of("Cedar Hill") or pytest.fail()).name == "Cedar Hill"
    assert (CITY.district_of("Elm St") or pytest.fail()).name == "Old Town"
    assert (CITY.district_of("the hospital") or pytest.fail()).name == "Cedar Hill"
    assert CITY.district_of("Atlantis") is None


def test_places_by_alias() -> None:
    assert (CITY.place("the tip") or pytest.fail()).name == "Southport Recycling Centre"
    assert CITY.place("nowhere") is None


def test_metres() -> None:
    assert metres(47.6, -122.3, 47.6, -122.3) == 0
    assert 1100 < metres(47.60, -122.3, 47.61, -122.3) < 1120


def test_load_validates_districts(tmp_path: Path) -> None:
    path = tmp_path / "city.yml"
    path.write_text(
        "city: X\nbounds: {south: 0, north: 1, west: 0, east: 1}\n"
        "districts: [{name: A, centre: {lat: 0.5, lon: 0.5}}]\n"
        "streets: [{name: B Street, aliases: [], district: Z, points: [{lat: 0.5, lon: 0.5}]}]\n"
        "places: []\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="unknown district 'Z'"):
        City.load(path)
