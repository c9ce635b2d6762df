"""When staff answer: the city's office hours, so that a resident is told when, not "soon"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@dataclass(frozen=True)
class OfficeHours:
    days: tuple[int, ...]  # 0 is Monday
    opens: time
    closes: time

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> OfficeHours:
        raw = raw or {}
        days = tuple(DAYS.index(d.capitalize()) for d in raw.get("days", DAYS[:5]))
        return cls(
            days=days,
            opens=time.fromisoformat(str(raw.get("opens", "08:30"))),
            closes=time.fromisoformat(str(raw.get("closes", "17:00"))),
        )

    def is_open(self, local: datetime) -> bool:
        return local.weekday() in self.days and self.opens <= local.time() < self.closes

    def next_opening(self, local: datetime) -> datetime:
        """The next moment staff are in, from a local (city time) moment outside the hours."""
        day = local.replace(hour=self.opens.hour, minute=self.opens.minute, second=0, microsecond=0)
        if local.time() >= self.opens:
            day += timedelta(days=1)
        while day.weekday() not in self.days:
            day += timedelta(days=1)
        return day

    def when(self, local: datetime) -> str:
        """ "tomorrow at 8:30 am", "on Monday at 8:30 am", "at 8:30 am today"."""
        opening = self.next_opening(local)
        clock = _clock(opening.time())
        if opening.date() == local.date():
            return f"today at {clock}"
        if opening.date() == local.date() + timedelta(days=1):
            return f"tomorrow at {clock}"
        return f"on {DAYS[opening.weekday()]} at {clock}"

    def describe(self) -> str:
        """ "Monday to Friday, 8:30 am to 5 pm"."""
        days = self.days
        consecutive = list(days) == list(range(days[0], days[0] + len(days)))
        named = (
            f"{DAYS[days[0]]} to {DAYS[days[-1]]}"
            if consecutive and len(days) > 2
            else ", ".join(DAYS[d] for d in days)
        )
        return f"{named}, {_clock(self.opens)} to {_clock(self.closes)}"


def _clock(moment: time) -> str:
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    return f"{hour}:{moment.minute:02d} {suffix}" if moment.minute else f"{hour} {suffix}"
