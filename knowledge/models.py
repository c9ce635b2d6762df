"""Knowledge-base tables: articles with every revision kept, the KB version, unanswered questions.

Types are portable (JSON, timezone-aware DateTime, Date) so the same models run on SQLite and
PostgreSQL; the core's migrations include this metadata.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class KnowledgeBase(DeclarativeBase):
    """Own base so the knowledge package owns its metadata and imports nothing of the core."""


class _Content:
    """The editable fields, kept on every revision and copied onto the article for fast reads."""

    slug: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(300))
    short_answer: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    questions: Mapped[list[str]] = mapped_column(JSON)
    category: Mapped[str] = mapped_column(String(100))
    department: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(16))
    source_url: Mapped[str] = mapped_column(String(2000))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(200))


class Article(_Content, KnowledgeBase):
    """An article's identity plus its current content (denormalised from the latest revision)."""

    __tablename__ = "kb_articles"
    __table_args__ = (
        UniqueConstraint("slug", name="uq_kb_articles_slug"),
        Index("ix_kb_articles_status_language", "status", "language"),
        Index("ix_kb_articles_changed_in_version", "changed_in_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    changed_in_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    revisions: Mapped[list[ArticleRevision]] = relationship(
        back_populates="article", order_by="ArticleRevision.number"
    )


class ArticleRevision(_Content, KnowledgeBase):
    """One saved state of an article; never changed once written."""

    __tablename__ = "kb_article_revisions"
    __table_args__ = (UniqueConstraint("article_id", "number", name="uq_kb_revisions_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    article: Mapped[Article] = relationship(back_populates="revisions")


class KnowledgeMeta(KnowledgeBase):
    """The single row whose version every change bumps; app instances poll it to reload."""

    __tablename__ = "kb_meta"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class UnansweredQuestion(KnowledgeBase):
    """A resident question the assistant could not answer, kept for staff to turn into articles."""

    __tablename__ = "kb_unanswered_questions"
    __table_args__ = (Index("ix_kb_unanswered_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_article_id: Mapped[int | None] = mapped_column(
        ForeignKey("kb_articles.id", ondelete="SET NULL")
    )
