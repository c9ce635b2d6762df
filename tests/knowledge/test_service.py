"""Curation: revisions, rollback, diff, status changes, versions, filters, unanswered questions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from knowledge.service import ArticleNotFound, KnowledgeService, SlugTaken

from .conftest import ArticleFactory


def test_every_change_is_a_revision_with_its_author(
    service: KnowledgeService, make_article: ArticleFactory
) -> None:
    created = service.create(make_article(), "ana")
    edited = service.update(
        created.id, make_article(answer="Call 311 to book a pickup."), "ben", "clearer"
    )
    retired = service.retire(created.id, "cy")
    restored = service.restore(created.id, "dee")

    assert (created.revision, edited.revision, retired.revision, restored.revision) == (1, 2, 3, 4)
    assert (retired.status, restored.status) == ("archived", "published")
    history = service.revisions(created.id)
    assert [(r.number, r.author, r.note, r.status) for r in history] == [
        (1, "ana", "created", "published"),
        (2, "ben", "clearer", "published"),
        (3, "cy", "retired", "archived"),
        (4, "dee", "restored", "published"),
    ]
    assert history[0].answer == make_article().answer
    current = service.get(created.id)
    assert current is not None
    assert (current.author, current.answer) == ("dee", "Call 311 to book a pickup.")
    assert current.updated_at.tzinfo is not None


def test_rollback_copies_the_old_revision_into_a_new_one(
    service: KnowledgeService, make_article: ArticleFactory
) -> None:
    article = service.create(make_article(), "ana")
    service.update(article.id, make_article(title="Bulky items", questions=["Sofa?"]), "ben")

    rolled = service.rollback(article.id, 1, "cy")

    assert rolled.revision == 3
    assert (rolled.title, rolled.questions) == ("Bulky waste pickup", make_article().questions)
    assert service.revisions(article.id)[-1].note == "rolled back to 1"
    assert len(service.revisions(article.id)) == 3
    with pytest.raises(ArticleNotFound, match="no revision 9"):
        service.rollback(article.id, 9, "cy")


def test_diff_shows_only_changed_fields_line_by_line(
    service: KnowledgeService, make_article: ArticleFactory
) -> None:
    article = service.create(make_article(), "ana")
    changed = make_article(
        questions=["How do I get rid of an old sofa?", "Do you take fridges?"],
        department="Waste Services",
    )
    service.update(article.id, changed, "ben")

    diff = service.diff(article.id, 1, 2)

    assert "--- questions (revision 1)\n+++ questions (revision 2)" in diff
    assert "-Can you collect my mattress?\n+Do you take fridges?" in diff
    assert "-Sanitation\n+Waste Services" in diff
    assert " How do I get rid of an old sofa?" in diff  # context, not a change
    assert "title" not in diff and "answer (" not in diff
    assert service.diff(article.id, 2, 2) == ""


def test_an_edit_that_changes_nothing_is_not_a_revision(
    service: KnowledgeService, make_article: ArticleFactory
) -> None:
    article = service.create(make_article(), "ana")
    version = service.version()

    again = service.update(article.id, make_article(), "ben")
    published = service.publish(article.id, "ben")

    assert again.revision == published.revision == 1
    assert service.version() == version


def test_every_change_bumps_the_version_and_stamps_the_article(
    service: KnowledgeService, make_article: ArticleFactory
) -> None:
    assert service.version() == 0
    sofa = service.create(make_article(), "ana")
    fine = service.create(make_article("parking-ticket", status="draft"), "ana")
    assert service.version() == 2
    assert service.changed_since(0) == ([service.get(sofa.id)], [fine.id])
    assert service.changed_since(2) == ([], [])

    service.publish(fine.id, "ben")
    service.retire(sofa.id, "ben")

    assert service.version() == 4
    upsert, remove = service.changed_since(2)
    assert ([a.id for a in upsert], remove) == ([fine.id], [sofa.id])
    assert service.changed_since(3) == ([], [sofa.id])


def test_a_slug_belongs_to_one_article(
    service: KnowledgeService, make_article: ArticleFactory
) -> None:
    service.create(make_article(), "ana")
    other = service.create(make_article("dog-licence"), "ana")
    version = service.version()

    with pytest.raises(SlugTaken, match="'bulky-waste' is already used"):
        service.create(make_article(), "ana")
    with pytest.raises(SlugTaken):
        service.update(other.id, make_article("dog-licence", slug="bulky-waste"), "ana")
    assert service.version() == version
    assert service.get_by_slug("dog-licence") == service.get(other.id)
    assert service.get(999) is None and service.get_by_slug("nope") is None


def test_valid_to_expires_an_article_after_its_last_day(
    service: KnowledgeService, make_article: ArticleFactory
) -> None:
    today = date.today()
    service.create(make_article(valid_to=today), "ana")
    service.create(make_article("dog-licence", valid_from=today + timedelta(days=1)), "ana")
    service.create(make_article("parking-ticket"), "ana")

    def slugs(on: date) -> list[str]:
        return [a.slug for a in service.published(on=on)]

    assert slugs(today) == ["bulky-waste", "parking-ticket"]
    assert slugs(today + timedelta(days=1)) == ["dog-licence", "parking-ticket"]
    assert [a.slug for a in service.published()] == slugs(today)


def test_list_filters_combine(service: KnowledgeService, make_article: ArticleFactory) -> None:
    service.create(make_article(), "ana")
    service.create(make_article("dog-licence", status="draft"), "ana")
    service.create(make_article("parking-ticket", language="es"), "ana")

    def slugs(**filters: str) -> list[str]:
        return [a.slug for a in service.list(**filters)]

    assert slugs() == ["bulky-waste", "dog-licence", "parking-ticket"]  # by title
    assert slugs(status="draft") == ["dog-licence"]
    assert slugs(language="es") == ["parking-ticket"]
    assert slugs(category="waste", department="Sanitation") == ["bulky-waste"]
    assert slugs(text="  MATTRESS ") == ["bulky-waste"]  # a question variant
    assert slugs(text="rabies") == ["dog-licence"]  # the answer
    assert slugs(text="'; DROP TABLE kb_articles; --") == []
    assert slugs(status="published", text="ticket") == ["parking-ticket"]


def test_unanswered_questions_are_kept_until_resolved(
    service: KnowledgeService, make_article: ArticleFactory
) -> None:
    hostile = "<b>Can I keep chickens?</b>'; DROP TABLE kb_unanswered_questions; --"
    first = service.record_unanswered(hostile, "en", "sms")
    second = service.record_unanswered("x" * 50_000, "en", "telegram")
    version = service.version()
    article = service.create(make_article(), "ana")

    assert [q.id for q in service.unanswered()] == [second, first]
    assert len(service.unanswered()[0].text) == 2000
    assert service.unanswered(limit=1)[0].id == second
    assert service.resolve_unanswered([first], article.id) == 1

    assert [q.id for q in service.unanswered()] == [second]
    assert service.unanswered(include_resolved=True)[1].text == hostile
    resolved = service.unanswered(include_resolved=True)
    assert {q.id: q.resolved_article_id for q in resolved} == {first: article.id, second: None}
    assert service.version() == version + 1  # only the article counted as a KB change
    with pytest.raises(ArticleNotFound):
        service.resolve_unanswered([second], 999)
