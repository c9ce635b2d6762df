"""Import is all or nothing and keyed by slug; export gives back what import takes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from knowledge.service import KnowledgeService

from .conftest import ArticleFactory, sessions_for


def rows(make_article: ArticleFactory, *keys: str, **changes: Any) -> list[dict[str, Any]]:
    return [make_article(key, **changes).model_dump(mode="json") for key in keys]


def test_a_bad_row_names_itself_and_nothing_is_applied(
    service: KnowledgeService, make_article: ArticleFactory
) -> None:
    existing = service.create(make_article(), "ana")
    items = rows(make_article, "bulky-waste", "dog-licence", answer="Changed.")
    items.append({**rows(make_article, "parking-ticket")[0], "short_answer": "too long " * 40})
    items.append("not an article")  # type: ignore[arg-type]

    report = service.import_articles(items, "importer")

    assert report.errors[0][0] == 3
    assert report.errors[0][1].startswith("short_answer: short answer has 80 words")
    assert report.errors[1] == (4, "expected a mapping of article fields")
    assert (report.created, report.updated, report.unchanged) == (0, 0, 0)
    assert "nothing applied" in str(report) and "row 3: short_answer" in str(report)
    assert [a.slug for a in service.list()] == ["bulky-waste"]
    assert service.get(existing.id) == existing
    assert service.version() == 1


def test_a_slug_twice_in_one_file_is_an_error(
    service: KnowledgeService, make_article: ArticleFactory
) -> None:
    items = rows(make_article, "dog-licence", "bulky-waste", "dog-licence")
    report = service.import_articles(items, "importer")
    assert report.errors == [(3, "slug 'dog-licence' appears again (first on row 1)")]
    assert service.list() == []


def test_import_creates_updates_and_skips_by_slug_in_one_version(
    service: KnowledgeService, make_article: ArticleFactory
) -> None:
    kept = service.create(make_article(), "ana")
    edited = service.create(make_article("dog-licence"), "ana")
    items = [
        *rows(make_article, "bulky-waste"),
        *rows(make_article, "dog-licence", answer="Licences are free this year."),
        *rows(make_article, "parking-ticket"),
    ]

    dry = service.import_articles(items, "importer", dry_run=True)
    assert (dry.created, dry.updated, dry.unchanged, dry.errors) == (1, 1, 1, [])
    assert service.version() == 2 and service.get_by_slug("parking-ticket") is None

    report = service.import_articles(items, "importer")

    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    assert str(report) == "1 created, 1 updated, 1 unchanged"
    assert service.version() == 3
    assert service.get(kept.id) == kept
    updated = service.get(edited.id)
    assert updated is not None
    assert (updated.revision, updated.author) == (2, "importer")
    assert updated.answer == "Licences are free this year."
    assert service.revisions(edited.id)[-1].note == "imported"
    assert service.import_articles(items, "importer").unchanged == 3
    assert service.version() == 3


def test_export_then_import_elsewhere_reproduces_the_articles(
    service: KnowledgeService, make_article: ArticleFactory, tmp_path: Path
) -> None:
    service.create(make_article(valid_from="2030-01-01", valid_to="2030-12-31"), "ana")
    service.create(make_article("dog-licence", status="draft", language="es"), "ana")

    exported = service.export_articles()
    other = KnowledgeService(sessions_for(tmp_path / "other.sqlite"))
    report = other.import_articles(exported, "copy")

    assert exported[0]["valid_from"] == "2030-01-01"
    assert report.created == 2 and not report.errors
    assert other.export_articles() == exported
