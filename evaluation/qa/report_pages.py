"""What `hotline evaluate` writes: a JSON summary and one HTML page with the plots beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and in CI

from jinja2 import Environment, select_autoescape

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#1b1b1b}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border:1px solid #bbb;padding:.3rem .6rem;text-align:right}
td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #ddd;margin:.5rem 0}
</style></head><body>
<h1>{{ title }}</h1>
<p>{{ intro }}</p>
<table><tbody>{% for k, v in headline.items() %}
<tr><th scope="row">{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</tbody></table>
{% for t in tables %}<h2>{{ t.title }}</h2><table><thead><tr>
{% for c in t.columns %}<th scope="col">{{ c }}</th>{% endfor %}</tr></thead><tbody>
{% for row in t.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>{% endfor %}
{% for p in plots %}<h2>{{ p.title }}</h2><img src="{{ p.file }}" alt="{{ p.alt }}">{% endfor %}
</body></html>
"""


def fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def write(
    out: Path,
    *,
    title: str,
    intro: str,
    summary: dict[str, Any],
    headline: dict[str, Any],
    tables: list[dict[str, Any]],
    plots: list[dict[str, str]],
) -> None:
    """summary.json and index.html in out; plots are PNG files already written there."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    page = env.from_string(_PAGE).render(
        title=title,
        intro=intro,
        headline={k: fmt(v) for k, v in headline.items()},
        tables=[{**t, "rows": [[fmt(c) for c in r] for r in t["rows"]]} for t in tables],
        plots=plots,
    )
    (out / "index.html").write_text(page, encoding="utf-8")
