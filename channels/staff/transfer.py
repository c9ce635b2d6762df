"""Articles in and out as CSV (one row an article) and YAML (the `hotline kb` format).

Reading a file either gives the articles or one message about the whole file; the knowledge
service then validates each article and applies all of them or none.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import yaml

from knowledge.schema import CONTENT_FIELDS, ArticleData, ImportReport
from knowledge.service import KnowledgeService

QUESTION_SEPARATOR = " | "
REQUIRED_COLUMNS = ("slug", "title", "short_answer", "answer", "questions")
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV
# injection"): the export puts a ' before it, which spreadsheets show as text, and the import
# takes it off again. A cell that already starts with ' gets one more, so every cell
# round-trips exactly.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"


class FileProblem(ValueError):
    """The file as a whole cannot be read (the message names what to fix)."""


@dataclass
class Parsed:
    items: list[dict[str, Any]]
    labels: list[str]  # how staff find each item in their file: "row 3", "article 2"


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileProblem(
            f"the file is not UTF-8 text (byte {exc.start}): save it as UTF-8 CSV or YAML"
        ) from exc


def read_csv(data: bytes) -> Parsed:
    text = _text(data)
    if "\x00" in text:
        raise FileProblem("the file is not a CSV text file")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise FileProblem(f"the CSV cannot be read: {exc}") from exc
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise FileProblem("the CSV is empty: the first row must name the columns")
    header = [cell.strip().lower() for cell in rows[0]]
    unknown = [name for name in header if name not in CONTENT_FIELDS]
    if unknown:
        raise FileProblem(
            f"unknown column(s) {', '.join(repr(u) for u in unknown)}; "
            f"the columns are {', '.join(CONTENT_FIELDS)}"
        )
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise FileProblem(f"missing column(s): {', '.join(missing)}")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise FileProblem(f"column(s) named twice: {', '.join(duplicated)}")
    items, labels = [], []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank lines at the end of a spreadsheet export
        if len(row) > len(header):
            raise FileProblem(
                f"row {number} has {len(row)} cells but there are {len(header)} columns"
            )
        item: dict[str, Any] = {}
        for name, cell in zip(header, row, strict=False):
            cell = _unguard(cell.strip())
            if name == "questions":
                item[name] = [q.strip() for q in cell.replace("\n", "|").split("|") if q.strip()]
            elif cell or name not in ("valid_from", "valid_to", "language", "status"):
                item[name] = cell
        items.append(item)
        labels.append(f"row {number}")
    return Parsed(items, labels)


def _guard(cell: str) -> str:
    return TEXT_MARK + cell if cell.startswith((*FORMULA_STARTS, TEXT_MARK)) else cell


def _unguard(cell: str) -> str:
    if cell.startswith(TEXT_MARK) and cell[1:].startswith((*FORMULA_STARTS, TEXT_MARK)):
        return cell[1:]
    return cell


def read_yaml(data: bytes) -> Parsed:
    text = _text(data)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise FileProblem(
            f"the YAML cannot be read{where}: {getattr(exc, 'problem', exc)}"
        ) from exc
    items = raw.get("articles") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise FileProblem(
            "the YAML must be a list of articles, or have a top-level 'articles' list"
        )
    labels = []
    for number, item in enumerate(items, start=1):
        slug = item.get("slug") if isinstance(item, dict) else None
        labels.append(f"article {number}" + (f" ({slug})" if isinstance(slug, str) else ""))
    return Parsed(items, labels)


def read(data: bytes, filename: str) -> Parsed:
    if not data.strip():
        raise FileProblem("the file is empty")
    name = filename.lower()
    if name.endswith(".csv"):
        return read_csv(data)
    if name.endswith((".yml", ".yaml")):
        return read_yaml(data)
    raise FileProblem("choose a .csv, .yml or .yaml file")


@dataclass
class Change:
    label: str
    slug: str
    action: str  # create | update | unchanged
    fields: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    report: ImportReport
    changes: list[Change]
    errors: list[str]  # each names the row or article
    applied: bool


def run_import(
    service: KnowledgeService, parsed: Parsed, author: str, dry_run: bool
) -> ImportResult:
    """Validate everything; apply all or nothing; say per article what would change."""
    report = service.import_articles(parsed.items, author, dry_run=True)
    errors = [f"{parsed.labels[row - 1]}: {message}" for row, message in report.errors]
    changes = [] if errors else _plan(service, parsed)
    if errors or dry_run:
        return ImportResult(report, changes, errors, applied=False)
    report = service.import_articles(parsed.items, author, dry_run=False)
    errors = [f"{parsed.labels[row - 1]}: {message}" for row, message in report.errors]
    return ImportResult(report, changes, errors, applied=not errors)


def _plan(service: KnowledgeService, parsed: Parsed) -> list[Change]:
    changes = []
    for label, item in zip(parsed.labels, parsed.items, strict=True):
        data = ArticleData.model_validate(item).model_dump()
        current = service.get_by_slug(data["slug"])
        if current is None:
            changes.append(Change(label, data["slug"], "create"))
            continue
        before = current.model_dump(include=set(CONTENT_FIELDS))
        differ = [name for name in CONTENT_FIELDS if before[name] != data[name]]
        changes.append(Change(label, data["slug"], "update" if differ else "unchanged", differ))
    return changes


def export_yaml(service: KnowledgeService) -> str:
    return yaml.safe_dump(
        {"articles": service.export_articles()}, sort_keys=False, allow_unicode=True
    )


def export_csv(service: KnowledgeService) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CONTENT_FIELDS)
    for article in service.export_articles():
        writer.writerow(
            [
                _guard(
                    QUESTION_SEPARATOR.join(article[name])
                    if name == "questions"
                    else article[name] or ""
                )
                for name in CONTENT_FIELDS
            ]
        )
    return out.getvalue()
