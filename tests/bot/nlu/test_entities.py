"""Rule-based entities: each kind, normalised values, hostile input, and speed."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest

from bot.city import City
from bot.nlu.entities import Entity, EntityExtractor
from bot.nlu.training_data import EntityAnnotation, Example, TrainingData, parse_example

from .conftest import NOW


def found(extractor: EntityExtractor, text: str) -> list[tuple[str, str]]:
    return [(e.entity, e.value) for e in extractor.extract(text)]


def spans_are_honest(text: str, entities: list[Entity]) -> None:
    for e in entities:
        assert text[e.start : e.end] == e.text
    for a, b in itertools.pairwise(entities):
        assert a.end <= b.start  # sorted, never overlapping


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("there is a pothole", [("service_type", "pothole")]),
        ("POTHOLES everywhere", [("service_type", "pothole")]),  # plural, any case
        ("a pot hole", [("service_type", "pothole")]),  # synonym from the data
        ("the street lights are out", [("service_type", "streetlight")]),  # longest match
        ("my bins were not collected", None),  # (phrasing the data may or may not list)
        ("graffiti", [("service_type", "graffiti")]),
        ("potholesque", []),  # word boundaries
    ],
)
def test_service_types(extractor: EntityExtractor, text: str, expected: list | None) -> None:
    result = found(extractor, text)
    if expected is not None:
        assert result == expected


def test_service_names_and_keywords_count_when_given(city: City) -> None:
    data = TrainingData(synonyms={"hole in road": "pothole"})
    extractor = EntityExtractor(
        data, city, {"pothole": ["Pothole", "road damage"], "noise": "Noise complaint"}
    )
    assert found(extractor, "hole in road") == [("service_type", "pothole")]
    assert found(extractor, "Road damage here") == [("service_type", "pothole")]
    assert found(extractor, "a noise complaint") == [("service_type", "noise")]


def test_annotated_service_values_are_used_without_a_catalogue(city: City) -> None:
    data = TrainingData(
        examples=[
            Example(
                "fix the lamp post",
                "report_problem",
                (EntityAnnotation("service_type", "streetlight", 8, 17, "lamp post"),),
            )
        ]
    )
    assert found(EntityExtractor(data, city, []), "Lamp posts broken") == [
        ("service_type", "streetlight")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("on Elm Street", [("street", "Elm Street")]),
        ("outside 14 Elm St", [("street", "14 Elm Street")]),
        ("at 12b elm st.", [("street", "12B Elm Street")]),
        ("it's on elm", [("street", "Elm Street")]),  # a core name after a location word
        ("near Elmm Street", [("street", "Elm Street")]),  # one typo before a street word
        ("12 Elmm Stret", [("street", "12 Elm Street")]),  # and one in the street word
        ("fifth street", [("street", "5th Street")]),
        ("at the corner of Elm and Oak Ave", [("street", "Elm Street & Oak Avenue")]),
        ("intersection of Main St & Station Road", [("street", "Main Street & Station Road")]),
        ("the tip", [("place", "Southport Recycling Centre")]),
        ("near City Hall", [("place", "City Hall")]),
        ("in Cedar Hill", [("district", "Cedar Hill")]),
        ("Cedar Hill Road", [("street", "Cedar Hill Road")]),  # longer beats the district
        ("elm trees are lovely", []),  # a bare core name needs a location word
    ],
)
def test_places(extractor: EntityExtractor, text: str, expected: list) -> None:
    assert found(extractor, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("it happened today", ("date", "2026-05-06")),
        ("since yesterday", ("date", "2026-05-05")),
        ("last night", ("date", "2026-05-05")),
        ("this morning", ("date", "2026-05-06")),
        ("on Monday", ("date", "2026-05-11")),  # a weekday alone: ahead (docs/dates.md)
        ("last Wednesday", ("date", "2026-04-29")),
        ("since 3 days", ("date", "2026-05-03")),
        ("for two weeks", ("date", "2026-04-22")),
        ("5 days ago", ("date", "2026-05-01")),
        ("a couple of days ago", ("date", "2026-05-04")),
        ("a few weeks ago", ("date", "2026-04-15")),
        ("3 May", ("date", "2026-05-03")),
        ("on the 3rd of May", ("date", "2026-05-03")),
        ("December 24", ("date", "2025-12-24")),  # no year: the nearer one
        ("May 3rd, 2025", ("date", "2025-05-03")),
        ("2026-05-03", ("date", "2026-05-03")),
        ("on 5/3", ("date", "2026-05-03")),  # US order
        ("at 5pm", ("time", "2026-05-06T17:00")),
        ("around 7:45 a.m.", ("time", "2026-05-06T07:45")),
        ("at 17:30", ("time", "2026-05-06T17:30")),
        ("yesterday at 5pm", ("time", "2026-05-05T17:00")),
        ("at noon on Monday", ("time", "2026-05-11T12:00")),
    ],
)
def test_dates_and_times(extractor: EntityExtractor, text: str, expected: tuple) -> None:
    assert found(extractor, text) == [expected]


def test_no_dates_from_modal_may_or_plain_numbers(extractor: EntityExtractor) -> None:
    assert found(extractor, "may I ask something") == []
    assert found(extractor, "it has been 3 days") == []
    assert found(extractor, "at 25:99") == []


def test_dates_use_the_city_time_zone(city: City) -> None:
    """Kiritimati (UTC+14) and Pago Pago (UTC-11) are always on different calendar days."""
    ahead = EntityExtractor(TrainingData(), city, [], timezone="Pacific/Kiritimati")
    behind = EntityExtractor(TrainingData(), city, [], timezone="Pacific/Pago_Pago")
    (a,), (b,) = ahead.extract("today"), behind.extract("today")
    assert date.fromisoformat(a.value) - date.fromisoformat(b.value) == timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call me on (206) 555-0123", ("phone", "+12065550123")),
        ("my number is 206.555.0123", ("phone", "+12065550123")),
        ("+1 206 555 0123", ("phone", "+12065550123")),
        ("it's 2065550123", ("phone", "+12065550123")),
    ],
)
def test_phones(extractor: EntityExtractor, text: str, expected: tuple) -> None:
    assert found(extractor, text) == [expected]


def test_not_a_phone(extractor: EntityExtractor) -> None:
    assert found(extractor, "12345") == []
    assert found(extractor, "call me on 555-0000-00000000") == []


@pytest.mark.parametrize(
    "text",
    [
        "REQ-2026-000123",
        "status of req-2026-000123 please",
        "REQ 2026 000123",
        "req2026000123",
        "Req 2026-123",  # short number, zero-padded
        "reference number: 2026 000123",
        "R E Q 2 0 2 6 0 0 0 1 2 3",
        "2 0 2 6 0 0 0 1 2 3",
        "my reference is two zero two six zero zero zero one two three",
        "req two oh two six, zero zero zero, one two three",
    ],
)
def test_references(extractor: EntityExtractor, text: str) -> None:
    entities = extractor.extract(text)
    assert [(e.entity, e.value) for e in entities] == [("reference", "REQ-2026-000123")]
    spans_are_honest(text, entities)


def test_a_phone_is_not_taken_for_a_reference(extractor: EntityExtractor) -> None:
    assert found(extractor, "call me on 2026000123") == [("phone", "+12026000123")]


def test_lookups_and_other_regexes(city: City) -> None:
    data = TrainingData(
        examples=[
            parse_example("in [English](language) please", "language"),
            parse_example("my zip is [98052](zipcode)", "inform"),
        ],
        synonyms={"español": "Spanish"},
        regexes={"zipcode": [r"\b98\d{3}\b"], "greet": [r"\bhey\b"]},
        lookups={"language": ["English", "Spanish", "español"], "thanks": ["thanks"]},
    )
    extractor = EntityExtractor(data, city, [])
    assert found(extractor, "Can you speak ESPAÑOL?") == [("language", "Spanish")]
    assert found(extractor, "zip 98101") == [("zipcode", "98101")]
    # Tables of names no example annotates are features, as in Rasa: never entities.
    assert found(extractor, "hey, thanks for the streetlight") == []


def test_everything_in_one_message(extractor: EntityExtractor) -> None:
    text = (
        "Big pothole outside 14 Elm St since yesterday at 5pm, about REQ-2026-000123, "
        "call me on 206-555-0123"
    )
    entities = extractor.extract(text)
    spans_are_honest(text, entities)
    assert [(e.entity, e.value) for e in entities] == [
        ("service_type", "pothole"),
        ("street", "14 Elm Street"),
        ("time", "2026-05-05T17:00"),
        ("reference", "REQ-2026-000123"),
        ("phone", "+12065550123"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "🕳️🚧💡🔥",
        "路灯坏了，在榆树街",
        "улица Ленина, яма",
        "شارع",
        "'; DROP TABLE requests; --",
        "<script>alert(1)</script>",
        "[pothole](service_type)",
        "\x00\x01\x02",
        "a" * 20_000,
        "1" * 5_000,
        "Elm " * 2_000,
        "((((((((((((((((((((((((((((((",
        "\u202eStreet Elm\u202c",
    ],
)
@pytest.mark.timeout(10)  # no pattern backtracks catastrophically on hostile text
def test_hostile_input_is_handled(extractor: EntityExtractor, text: str) -> None:
    spans_are_honest(text, extractor.extract(text))


def test_entities_in_other_scripts_and_emoji(extractor: EntityExtractor) -> None:
    assert found(extractor, "🕳️ pothole!!! 🚧 on Elm St 😡") == [
        ("service_type", "pothole"),
        ("street", "Elm Street"),
    ]
    assert found(extractor, "路灯 on Main Street 坏了") == [("street", "Main Street")]


def test_now_is_injectable() -> None:
    assert NOW.weekday() == 2  # the dates above assume a Wednesday


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("there is a pothole on my street", "en"),
        ("hola, necesito ayuda con un bache en la calle", "es"),
        ("bonjour, il y a un trou dans la rue", "fr"),
        ("路灯坏了", "zh"),
        ("도로에 구멍이 있어요", "ko"),
        ("яма на дороге", "ru"),
        ("ok", None),
        ("", None),
        ("🚧🚧", None),
    ],
)
def test_language_guess(text: str, language: str | None) -> None:
    from bot.nlu.language import detect_language

    assert detect_language(text) == language
