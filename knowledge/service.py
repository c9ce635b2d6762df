"""The curation service: every read and write of the knowledge base goes through here.

Each write runs in one transaction that first bumps the KB version (the row lock on
``kb_meta`` also serialises concurrent writers across app instances), then writes a new
revision and copies it onto the article, stamped with that version; app instances compare
versions to refresh their search index.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from knowledge.models import Article, ArticleRevision, KnowledgeMeta, UnansweredQuestion
from knowledge.schema import (
    CONTENT_FIELDS,
    ArticleData,
    ArticleView,
    ImportReport,
    RevisionView,
    UnansweredView,
    describe,
)

UNANSWERED_MAX_CHARS = 2000  # what a resident typed is kept for staff, but not without bound


class KnowledgeError(Exception):
    """A request the knowledge base cannot carry out (the message is for staff)."""


class ArticleNotFound(KnowledgeError, LookupError):
    """No article (or revision) with that id or number."""


class SlugTaken(KnowledgeError):
    """Another article already uses the slug."""


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; everything we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _content(row: Article | ArticleRevision) -> dict[str, Any]:
    return {name: getattr(row, name) for name in CONTENT_FIELDS}


def _view(article: Article) -> ArticleView:
    return ArticleView(
        id=article.id,
        revision=article.revision,
        updated_at=_aware(article.updated_at),
        author=article.author,
        **_content(article),
    )


def _revision_view(revision: ArticleRevision) -> RevisionView:
    return RevisionView(
        article_id=revision.article_id,
        number=revision.number,
        author=revision.author,
        note=revision.note,
        created_at=_aware(revision.created_at),
        **_content(revision),
    )


def _unanswered_view(row: UnansweredQuestion) -> UnansweredView:
    return UnansweredView(
        id=row.id,
        text=row.text,
        language=row.language,
        channel=row.channel,
        created_at=_aware(row.created_at),
        resolved_article_id=row.resolved_article_id,
    )


def _bump(session: Session) -> int:
    """Take the next KB version; the first write of a fresh database creates the row."""
    bump = (
        update(KnowledgeMeta)
        .where(KnowledgeMeta.id == 1)
        .values(version=KnowledgeMeta.version + 1)
        .returning(KnowledgeMeta.version)
    )
    version = session.scalar(bump)
    if version is None:
        try:
            with session.begin_nested():
                session.add(KnowledgeMeta(id=1, version=0))
        except IntegrityError:  # another instance created it first
            pass
        version = session.scalar(bump)
    assert version is not None
    return version


@dataclass
class _Change:
    """One write transaction: its session, the version it stamps, whether it changed anything."""

    session: Session
    version: int
    changed: bool = False


class KnowledgeService:
    """Articles, their revisions, the KB version and the unanswered questions, over SQLAlchemy."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    @contextmanager
    def _change(self) -> Iterator[_Change]:
        """Commit only if something changed, so no-op edits do not make every instance reload."""
        with self._sessions() as session:
            change = _Change(session, _bump(session))
            yield change
            if change.changed:
                session.commit()
            else:
                session.rollback()

    def _article(self, session: Session, article_id: int) -> Article:
        article = session.get(Article, article_id)
        if article is None:
            raise ArticleNotFound(f"no article with id {article_id}")
        return article

    def _check_slug(self, session: Session, slug: str, article_id: int | None) -> None:
        owner = session.scalar(select(Article.id).where(Article.slug == slug))
        if owner is not None and owner != article_id:
            raise SlugTaken(f"slug '{slug}' is already used by article {owner}")

    def _revise(
        self, change: _Change, article: Article, content: dict[str, Any], author: str, note: str
    ) -> None:
        """Write the next revision unless the content is unchanged, and copy it onto the article."""
        if _content(article) == content:
            return
        now = _now()
        number = (article.revision or 0) + 1
        revision = ArticleRevision(number=number, author=author, note=note, created_at=now)
        for name, value in content.items():
            setattr(revision, name, value)
            setattr(article, name, value)
        article.author = author
        article.revision = number
        article.updated_at = now
        article.changed_in_version = change.version
        article.revisions.append(revision)
        change.session.flush()
        change.changed = True

    # -- writing ---------------------------------------------------------------------------

    def create(self, data: ArticleData, author: str) -> ArticleView:
        with self._change() as change:
            self._check_slug(change.session, data.slug, None)
            article = Article(created_at=_now())
            change.session.add(article)
            self._revise(change, article, data.model_dump(), author, "created")
            return _view(article)

    def update(
        self, article_id: int, data: ArticleData, author: str, note: str = ""
    ) -> ArticleView:
        with self._change() as change:
            article = self._article(change.session, article_id)
            self._check_slug(change.session, data.slug, article_id)
            self._revise(change, article, data.model_dump(), author, note)
            return _view(article)

    def _set_status(self, article_id: int, status: str, author: str, note: str) -> ArticleView:
        with self._change() as change:
            article = self._article(change.session, article_id)
            self._revise(change, article, {**_content(article), "status": status}, author, note)
            return _view(article)

    def publish(self, article_id: int, author: str) -> ArticleView:
        return self._set_status(article_id, "published", author, "published")

    def retire(self, article_id: int, author: str) -> ArticleView:
        """Archive: the article leaves search but keeps its history and can be restored."""
        return self._set_status(article_id, "archived", author, "retired")

    def restore(self, article_id: int, author: str) -> ArticleView:
        """Undo a retirement: the article is published again."""
        return self._set_status(article_id, "published", author, "restored")

    def rollback(self, article_id: int, to_number: int, author: str) -> ArticleView:
        """Make an old revision current again, as a new revision (history is never rewritten)."""
        with self._change() as change:
            article = self._article(change.session, article_id)
            old = change.session.scalar(
                select(ArticleRevision).where(
                    ArticleRevision.article_id == article_id, ArticleRevision.number == to_number
                )
            )
            if old is None:
                raise ArticleNotFound(f"article {article_id} has no revision {to_number}")
            self._check_slug(change.session, old.slug, article_id)
            self._revise(change, article, _content(old), author, f"rolled back to {to_number}")
            return _view(article)

    # -- reading ---------------------------------------------------------------------------

    def get(self, article_id: int) -> ArticleView | None:
        with self._sessions() as session:
            article = session.get(Article, article_id)
            return _view(article) if article else None

    def get_by_slug(self, slug: str) -> ArticleView | None:
        with self._sessions() as session:
            article = session.scalar(select(Article).where(Article.slug == slug))
            return _view(article) if article else None

    def _select(self, query: Select[tuple[Article]]) -> list[ArticleView]:
        with self._sessions() as session:
            return [_view(article) for article in session.scalars(query)]

    def list(
        self,
        status: str | None = None,
        category: str | None = None,
        department: str | None = None,
        language: str | None = None,
        text: str | None = None,
    ) -> list[ArticleView]:
        """Filter for the console; text matches any field, case-insensitively (in Python, since
        question variants are JSON and a city KB is thousands of articles, not millions)."""
        query = select(Article).order_by(Article.title, Article.id)
        for column, value in (
            (Article.status, status),
            (Article.category, category),
            (Article.department, department),
            (Article.language, language),
        ):
            if value is not None:
                query = query.where(column == value)
        articles = self._select(query)
        if not text or not text.strip():
            return articles
        needle = " ".join(text.split()).casefold()
        return [
            view
            for view in articles
            if needle
            in " ".join(
                [view.slug, view.title, view.short_answer, view.answer, *view.questions]
            ).casefold()
        ]

    def published(self, language: str | None = None, on: date | None = None) -> list[ArticleView]:
        """Articles a resident may be told about on that day (valid_from and valid_to inclusive)."""
        day = on or date.today()
        query = (
            select(Article)
            .where(Article.status == "published")
            .where((Article.valid_from.is_(None)) | (Article.valid_from <= day))
            .where((Article.valid_to.is_(None)) | (Article.valid_to >= day))
            .order_by(Article.id)
        )
        if language is not None:
            query = query.where(Article.language == language)
        return self._select(query)

    def revisions(self, article_id: int) -> list[RevisionView]:
        with self._sessions() as session:
            article = self._article(session, article_id)
            return [_revision_view(revision) for revision in article.revisions]

    def diff(self, article_id: int, a: int, b: int) -> str:
        """A unified diff per changed field between revisions a and b ('' when equal)."""
        by_number = {revision.number: revision for revision in self.revisions(article_id)}
        for number in (a, b):
            if number not in by_number:
                raise ArticleNotFound(f"article {article_id} has no revision {number}")
        old, new = by_number[a], by_number[b]
        parts: list[str] = []
        for name in CONTENT_FIELDS:
            before, after = _lines(getattr(old, name)), _lines(getattr(new, name))
            if before != after:
                parts.extend(
                    difflib.unified_diff(
                        before,
                        after,
                        fromfile=f"{name} (revision {a})",
                        tofile=f"{name} (revision {b})",
                        lineterm="",
                    )
                )
        return "\n".join(parts)

    def version(self) -> int:
        with self._sessions() as session:
            return session.scalar(select(KnowledgeMeta.version).where(KnowledgeMeta.id == 1)) or 0

    def changed_since(self, version: int) -> tuple[list[ArticleView], list[int]]:
        """What an index at `version` must upsert (published) and remove (anything else).

        Validity dates are not applied here: the index keeps them and filters at query time,
        since an article expiring at midnight changes no version.
        """
        query = select(Article).where(Article.changed_in_version > version).order_by(Article.id)
        changed = self._select(query)
        upsert = [view for view in changed if view.status == "published"]
        remove = [view.id for view in changed if view.status != "published"]
        return upsert, remove

    # -- unanswered questions --------------------------------------------------------------

    def record_unanswered(self, text: str, language: str, channel: str) -> int:
        """Keep a question for staff; it is not an article change, so the version stays."""
        with self._sessions() as session, session.begin():
            row = UnansweredQuestion(
                text=text[:UNANSWERED_MAX_CHARS],
                language=language,
                channel=channel,
                created_at=_now(),
            )
            session.add(row)
            session.flush()
            return row.id

    def unanswered(self, limit: int = 50, include_resolved: bool = False) -> list[UnansweredView]:
        """Newest first."""
        query = (
            select(UnansweredQuestion)
            .order_by(UnansweredQuestion.created_at.desc(), UnansweredQuestion.id.desc())
            .limit(limit)
        )
        if not include_resolved:
            query = query.where(UnansweredQuestion.resolved_article_id.is_(None))
        with self._sessions() as session:
            return [_unanswered_view(row) for row in session.scalars(query)]

    def resolve_unanswered(self, ids: list[int], article_id: int) -> int:
        """Mark questions as answered by an article; returns how many rows were marked."""
        with self._sessions() as session, session.begin():
            self._article(session, article_id)
            result = session.execute(
                update(UnansweredQuestion)
                .where(UnansweredQuestion.id.in_(ids))
                .values(resolved_article_id=article_id)
            )
            return result.rowcount

    # -- import and export -----------------------------------------------------------------

    def import_articles(
        self, items: list[dict[str, Any]], author: str, dry_run: bool = False
    ) -> ImportReport:
        """Create or update by slug, all or nothing: with any error (or on a dry run) nothing
        is applied. Rows are numbered from 1 in the order given."""
        report = ImportReport()
        valid: list[ArticleData] = []
        first_row: dict[str, int] = {}
        for row, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                report.errors.append((row, "expected a mapping of article fields"))
                continue
            try:
                data = ArticleData.model_validate(item)
            except ValidationError as error:
                report.errors.append((row, describe(error)))
                continue
            if data.slug in first_row:
                report.errors.append(
                    (row, f"slug '{data.slug}' appears again (first on row {first_row[data.slug]})")
                )
                continue
            first_row[data.slug] = row
            valid.append(data)
        if report.errors:
            return report
        with self._change() as change:
            existing = {
                article.slug: article
                for article in change.session.scalars(
                    select(Article).where(Article.slug.in_(list(first_row)))
                )
            }
            for data in valid:
                article = existing.get(data.slug)
                if article is None:
                    article = Article(created_at=_now())
                    change.session.add(article)
                    report.created += 1
                elif _content(article) == data.model_dump():
                    report.unchanged += 1
                    continue
                else:
                    report.updated += 1
                self._revise(change, article, data.model_dump(), author, "imported")
            if dry_run:
                change.changed = False
        return report

    def export_articles(self) -> list[dict[str, Any]]:
        """Every article's current content, in a form import_articles takes back (dates as ISO)."""
        query = select(Article).order_by(Article.id)
        return [
            view.model_dump(mode="json", include=set(CONTENT_FIELDS))
            for view in self._select(query)
        ]


def _lines(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    return [] if value is None else str(value).splitlines()
