"""The date rule (docs/dates.md): weekdays ahead unless words point back, in the city's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.city import City
from bot.nlu.entities import WEEKDAYS, EntityExtractor
from bot.nlu.training_data import TrainingData

# Monday 30 November to Sunday 6 December 2026: one date per weekday, index = weekday().
WEEK = [date(2026, 11, 30) + timedelta(days=k) for k in range(7)]


def extractor_on(city: City, day: date, *, hour: int = 10) -> EntityExtractor:
    moment = datetime(day.year, day.month, day.day, hour, 15)
    return EntityExtractor(TrainingData(), city, [], now=lambda: moment)


def said(extractor: EntityExtractor, text: str) -> date:
    dates = [e for e in extractor.extract(text) if e.entity in ("date", "time")]
    assert len(dates) == 1, f"{text!r}: {dates}"
    return date.fromisoformat(dates[0].value[:10])


def test_the_issue_examples(city: City) -> None:
    thursday = extractor_on(city, date(2026, 12, 3))
    assert said(thursday, "can you come on saturday") == date(2026, 12, 5)
    assert said(thursday, "next monday please") == date(2026, 12, 7)
    assert said(thursday, "this friday") == date(2026, 12, 4)
    assert said(thursday, "on thursday") == date(2026, 12, 3)  # today's name: today
    assert said(thursday, "next thursday") == date(2026, 12, 10)  # "next": never today
    assert said(thursday, "last thursday") == date(2026, 11, 26)


@pytest.mark.parametrize("today", WEEK, ids=[d.strftime("%a") for d in WEEK])
@pytest.mark.parametrize("target", range(7), ids=WEEKDAYS)
def test_every_weekday_from_every_weekday(city: City, today: date, target: int) -> None:
    extractor = extractor_on(city, today)
    name = WEEKDAYS[target]
    alone = said(extractor, f"on {name.title()}")
    this = said(extractor, f"this {name}")
    coming = said(extractor, f"next {name}")
    last = said(extractor, f"last {name}")
    since = said(extractor, f"broken since {name} morning")
    for day in (alone, this, coming, last, since):
        assert day.weekday() == target
    assert 0 <= (alone - today).days <= 6 and this == alone  # never in the past
    assert 1 <= (coming - today).days <= 7  # never today, never in the past
    assert coming == (alone if alone > today else alone + timedelta(days=7))
    assert 1 <= (today - last).days <= 7
    assert 0 <= (today - since).days <= 6


@pytest.mark.parametrize(
    ("today", "text", "expected"),
    [
        # Wednesday 30 December 2026: the week ahead is in 2027.
        (date(2026, 12, 30), "on saturday", date(2027, 1, 2)),
        (date(2026, 12, 30), "next monday", date(2027, 1, 4)),
        (date(2026, 12, 30), "next wednesday", date(2027, 1, 6)),
        (date(2026, 12, 30), "on Thursday", date(2026, 12, 31)),
        (date(2026, 12, 30), "last friday", date(2026, 12, 25)),
        (date(2026, 12, 30), "4 January", date(2027, 1, 4)),  # the nearer one: next week
        (date(2026, 12, 30), "December 24", date(2026, 12, 24)),
        (date(2026, 12, 30), "in 3 days", date(2027, 1, 2)),
        (date(2026, 12, 30), "tomorrow", date(2026, 12, 31)),
        # Friday 1 January 2027: last week is in 2026.
        (date(2027, 1, 1), "since monday", date(2026, 12, 28)),
        (date(2027, 1, 1), "last sunday", date(2026, 12, 27)),
        (date(2027, 1, 1), "December 30", date(2026, 12, 30)),
        (date(2027, 1, 1), "since 2 January", date(2026, 1, 2)),  # "since": never ahead
        (date(2027, 1, 1), "2 January", date(2027, 1, 2)),
        (date(2027, 1, 1), "yesterday", date(2026, 12, 31)),
        (date(2027, 1, 1), "a week ago", date(2026, 12, 25)),
        # A leap day without a year: the nearest 29 February that exists.
        (date(2027, 3, 1), "29 February", date(2028, 2, 29)),
        (date(2028, 3, 1), "29 February", date(2028, 2, 29)),
    ],
)
def test_week_and_year_boundaries(city: City, today: date, text: str, expected: date) -> None:
    assert said(extractor_on(city, today), text) == expected


def test_an_explicit_year_is_kept(city: City) -> None:
    extractor = extractor_on(city, date(2026, 12, 3))
    assert said(extractor, "on 3 May 2025") == date(2025, 5, 3)
    assert said(extractor, "2027-02-01") == date(2027, 2, 1)
    assert extractor.extract("on 31 February") == []  # no such day: nothing, not a guess


def test_the_weekday_is_the_city_s_not_the_server_s(city: City) -> None:
    """05:30 UTC on Friday 4 December is still Thursday evening in Port Alder (UTC-8)."""
    instant = datetime(2026, 12, 4, 5, 30, tzinfo=UTC)
    extractor = EntityExtractor(
        TrainingData(), city, [], timezone="America/Los_Angeles", now=lambda: instant
    )
    assert said(extractor, "on friday") == date(2026, 12, 4)  # tomorrow, not a week away
    assert said(extractor, "tomorrow") == date(2026, 12, 4)
    assert said(extractor, "next thursday") == date(2026, 12, 10)
    utc = EntityExtractor(TrainingData(), city, [], timezone="UTC", now=lambda: instant)
    assert said(utc, "on friday") == date(2026, 12, 4)  # today there
    assert said(utc, "next thursday") == date(2026, 12, 10)
    assert said(utc, "tomorrow") == date(2026, 12, 5)


def test_a_time_joins_its_forward_weekday(city: City) -> None:
    extractor = extractor_on(city, date(2026, 12, 3))
    (entity,) = extractor.extract("could someone come at 10am next monday")
    assert (entity.entity, entity.value) == ("time", "2026-12-07T10:00")
