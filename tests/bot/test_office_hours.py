"""Office hours: when staff answer, said the way a resident reads it."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.office_hours import OfficeHours

HOURS = OfficeHours.parse({"days": ["Monday", "Friday"], "opens": "08:30", "closes": "17:00"})
WEEKDAYS = OfficeHours.parse(None)


def test_open_and_closed() -> None:
    assert WEEKDAYS.is_open(datetime(2026, 12, 3, 9, 0))  # a Thursday
    assert not WEEKDAYS.is_open(datetime(2026, 12, 3, 17, 0))
    assert not WEEKDAYS.is_open(datetime(2026, 12, 5, 10, 0))  # a Saturday


@pytest.mark.parametrize(
    ("now", "when"),
    [
        (datetime(2026, 12, 3, 7, 0), "today at 8:30 am"),
        (datetime(2026, 12, 3, 18, 0), "tomorrow at 8:30 am"),
        (datetime(2026, 12, 4, 18, 0), "on Monday at 8:30 am"),
        (datetime(2026, 12, 5, 10, 0), "on Monday at 8:30 am"),
    ],
)
def test_when_staff_answer(now: datetime, when: str) -> None:
    assert WEEKDAYS.when(now) == when


def test_described() -> None:
    assert WEEKDAYS.describe() == "Monday to Friday, 8:30 am to 5 pm"
    assert HOURS.describe() == "Monday, Friday, 8:30 am to 5 pm"
    assert HOURS.when(datetime(2026, 12, 1, 9, 0)) == "on Friday at 8:30 am"  # a Tuesday


def test_bad_day_names_fail_at_start_up() -> None:
    with pytest.raises(ValueError):
        OfficeHours.parse({"days": ["Caturday"]})
