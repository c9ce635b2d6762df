"""Charts as geometry for inline SVG (drawn by templates/_charts.html, escaped by Jinja).

Server-side and script-free: the page works without JavaScript, and each chart has a data
table next to it for screen readers and for anyone who wants the numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

# Dark enough for 3:1 against white (WCAG 1.4.11) and apart for colour-blind readers.
PALETTE = ("#1d4e89", "#b1460e", "#17713a", "#7b2d8e", "#5c5c5c", "#8a6d00")


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    colour: str


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, one row per item."""

    width: int
    height: int
    label_width: int
    bars: list[Bar]


def bar_chart(items: list[tuple[str, int]], width: int = 560, row: int = 28) -> BarChart:
    label_width = 190
    room = width - label_width - 60
    top = max((value for _, value in items), default=0) or 1
    bars = [
        Bar(
            label=label,
            value=value,
            x=label_width,
            y=i * row + 4,
            width=max(1.0, room * value / top) if value else 0.0,
            height=row - 10,
            colour=PALETTE[0],
        )
        for i, (label, value) in enumerate(items)
    ]
    return BarChart(width, max(row, row * len(items)) + 8, label_width, bars)


@dataclass(frozen=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class Column:
    label: str  # day, e.g. "03-14"
    x: float
    segments: list[Bar]
    total: int


@dataclass(frozen=True)
class StackedChart:
    """Stacked columns per day, one colour per series (channel), with a legend."""

    width: int
    height: int
    plot_top: float
    plot_bottom: float
    left: float
    column_width: float
    columns: list[Column]
    ticks: list[Tick]
    legend: list[tuple[str, str]]


def _nice_top(value: int) -> int:
    if value <= 5:
        return 5
    magnitude = 10 ** int(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return int(step * magnitude)
    return value


def stacked_chart(
    days: list[date], series: dict[str, dict[date, int]], width: int = 640, height: int = 260
) -> StackedChart:
    names = sorted(series)
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
    left, top_margin, bottom_margin = 44.0, 12.0, 36.0
    plot_bottom = height - bottom_margin
    plot_height = plot_bottom - top_margin
    totals = [sum(series[name].get(day, 0) for name in names) for day in days]
    top = _nice_top(max(totals, default=0))
    slot = (width - left - 8) / max(1, len(days))
    columns = []
    for i, day in enumerate(days):
        x = left + i * slot + slot * 0.15
        y = plot_bottom
        segments = []
        for name in names:
            value = series[name].get(day, 0)
            if not value:
                continue
            h = plot_height * value / top
            y -= h
            segments.append(Bar(name, value, x, y, slot * 0.7, h, colours[name]))
        columns.append(Column(day.strftime("%m-%d"), x, segments, totals[i]))
    ticks = [Tick(int(top * f), plot_bottom - plot_height * f) for f in (0, 0.25, 0.5, 0.75, 1.0)]
    return StackedChart(
        width,
        height,
        top_margin,
        plot_bottom,
        left,
        slot * 0.7,
        columns,
        list({t.value: t for t in ticks}.values()),
        [(name, colours[name]) for name in names],
    )
