"""Conversation-test results as a terminal summary, JUnit XML and an HTML page.

JUnit: one ``testsuite`` per file, one ``testcase`` per conversation, the failing turn in the
``failure`` text, unchecked expectations and unmapped Rasa steps in ``system-out``, so CI
servers show them. HTML: every failing conversation with its failing turn side by side
(what the step expected, what the reply showed), then the turns before it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from xml.etree import ElementTree as ET

import yaml
from jinja2 import Environment, select_autoescape
from rich.console import Console
from rich.table import Table

from evaluation.qa.conversations import ConversationResult


def failure_text(result: ConversationResult) -> str:
    """Every failing turn as plain text: what was sent, expected and got."""
    if result.error:
        return result.error
    lines = []
    for step in result.failed_steps:
        lines += [
            f"step {step.index}: sent {step.sent!r}",
            *(f"  - {f}" for f in step.failures),
            f"  expected: {yaml.safe_dump(step.expected, sort_keys=False).strip()}",
            f"  got intent {step.intent}, replied {step.reply!r}",
        ]
    return "\n".join(lines)


def notes(result: ConversationResult) -> list[str]:
    out = [f"not mapped from Rasa: {s}" for s in result.conversation.skipped_steps]
    out += [f"step {s.index}: unchecked {u}" for s in result.steps for u in s.unchecked]
    return out


def summary_counts(results: list[ConversationResult]) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for result in results:
        counts[result.status] += 1
    return counts


def print_summary(results: list[ConversationResult], console: Console) -> None:
    """Failures first with their turn, then a table per file and one closing line."""
    for result in results:
        if result.status == "failed":
            console.print(f"[bold red]FAILED[/] {result.conversation.key}")
            console.print(failure_text(result), markup=False, highlight=False, soft_wrap=True)
    table = Table(title="conversation tests", show_lines=False)
    for column in ("file", "passed", "failed", "skipped", "seconds"):
        table.add_column(column, justify="left" if column == "file" else "right")
    per_file: dict[str, list[ConversationResult]] = defaultdict(list)
    for result in results:
        per_file[str(result.conversation.file)].append(result)
    for file, items in per_file.items():
        counts = summary_counts(items)
        table.add_row(
            file,
            str(counts["passed"]),
            f"[red]{counts['failed']}[/]" if counts["failed"] else "0",
            str(counts["skipped"]),
            f"{sum(r.seconds for r in items):.1f}",
        )
    console.print(table)
    skipped = [r for r in results if r.skipped]
    for result in skipped:
        console.print(f"[yellow]skipped[/] {result.conversation.key}: {result.skipped}")
    unmapped = sum(len(r.conversation.skipped_steps) for r in results)
    unchecked = sum(len(s.unchecked) for r in results for s in r.steps)
    if unmapped or unchecked:
        console.print(
            f"[yellow]{unmapped} Rasa steps not mapped, {unchecked} expectations not visible "
            "through this target[/] (listed in the JUnit and HTML reports)"
        )
    counts = summary_counts(results)
    console.print(
        f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
    )


def write_junit(results: list[ConversationResult], path: Path, target: str = "") -> None:
    root = ET.Element("testsuites", name="hotline conversations")
    per_file: dict[Path, list[ConversationResult]] = defaultdict(list)
    for result in results:
        per_file[result.conversation.file].append(result)
    for file, items in per_file.items():
        counts = summary_counts(items)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=str(file),
            tests=str(len(items)),
            failures=str(counts["failed"]),
            errors="0",
            skipped=str(counts["skipped"]),
            time=f"{sum(r.seconds for r in items):.3f}",
        )
        if target:
            properties = ET.SubElement(suite, "properties")
            ET.SubElement(properties, "property", name="target", value=target)
        for result in items:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=file.stem,
                name=result.conversation.name,
                file=str(file),
                time=f"{result.seconds:.3f}",
            )
            if result.status == "failed":
                step = result.failed_step
                message = step.failures[0] if step else (result.error or "failed")
                if len(result.failed_steps) > 1:
                    message += f" (and {len(result.failed_steps) - 1} more failing turn(s))"
                failure = ET.SubElement(case, "failure", message=message, type="expectation")
                failure.text = failure_text(result)
            elif result.skipped:
                ET.SubElement(case, "skipped", message=result.skipped)
            extra = notes(result)
            if extra:
                ET.SubElement(case, "system-out").text = "\n".join(extra)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Conversation tests</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#1b1b1b}
h1{font-size:1.5rem} .passed{color:#146c2e} .failed{color:#b3261e} .skipped{color:#7a5900}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
td,th{border:1px solid #bbb;padding:.4rem .6rem;vertical-align:top;text-align:left}
pre{white-space:pre-wrap;margin:0;font-size:.9rem}
.side th{width:50%} .turns td:first-child{width:3rem}
section{border-top:2px solid #ddd;padding-top:.5rem}
</style></head><body>
<h1>Conversation tests{% if target %} against {{ target }}{% endif %}</h1>
<p><strong class="passed">{{ counts.passed }} passed</strong>,
<strong class="failed">{{ counts.failed }} failed</strong>,
<strong class="skipped">{{ counts.skipped }} skipped</strong>
of {{ results|length }} conversations.</p>
<table><thead><tr><th>conversation</th><th>file</th><th>result</th><th>seconds</th></tr></thead>
<tbody>{% for r in results %}<tr><td>{% if r.status != "passed" %}<a href="#c{{ loop.index }}">
{{ r.conversation.name }}</a>{% else %}{{ r.conversation.name }}{% endif %}</td>
<td>{{ r.conversation.file.name }}</td><td class="{{ r.status }}">{{ r.status }}</td>
<td>{{ "%.2f"|format(r.seconds) }}</td></tr>{% endfor %}</tbody></table>
{% for r in results %}{% if r.status != "passed" or notes(r) %}
<section id="c{{ loop.index }}"><h2 class="{{ r.status }}">{{ r.status }}:
{{ r.conversation.name }}</h2><p>{{ r.conversation.file }}</p>
{% if r.skipped %}<p>Skipped: {{ r.skipped }}</p>{% endif %}
{% if r.error %}<p>Error: {{ r.error }}</p>{% endif %}
{% for step in r.failed_steps %}
<h3>Failing turn: step {{ step.index }}, sent &ldquo;{{ step.sent }}&rdquo;</h3>
<ul>{% for f in step.failures %}<li class="failed">{{ f }}</li>{% endfor %}</ul>
<table class="side"><thead><tr><th>expected</th><th>got</th></tr></thead><tbody><tr>
<td><pre>{{ dump(step.expected) }}</pre></td><td><pre>{{ dump(step.got) }}</pre></td>
</tr></tbody></table>{% endfor %}
{% if r.steps %}<h3>Turns</h3><table class="turns"><thead><tr><th>step</th><th>sent</th>
<th>intent</th><th>reply</th></tr></thead><tbody>{% for s in r.steps %}
<tr class="{{ 'failed' if s.failures else '' }}"><td>{{ s.index }}</td><td>{{ s.sent }}</td>
<td>{{ s.intent }}</td><td><pre>{{ s.reply }}</pre></td></tr>{% endfor %}</tbody></table>{% endif %}
{% if notes(r) %}<h3>Not checked</h3><ul>{% for n in notes(r) %}<li>{{ n }}</li>{% endfor %}
</ul>{% endif %}</section>{% endif %}{% endfor %}
</body></html>
"""


def _dump(value: object) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=70).strip()


def write_html(results: list[ConversationResult], path: Path, target: str = "") -> None:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    page = env.from_string(_PAGE).render(
        results=results,
        counts=summary_counts(results),
        target=target,
        notes=notes,
        dump=_dump,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
