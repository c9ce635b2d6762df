"""What callers write (ArticleData, validated) and read (ArticleView, RevisionView, ...)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

SHORT_ANSWER_MAX_WORDS = 60  # a spoken or SMS reply must stay short; the full answer is a tap away
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")

Status = Literal["draft", "published", "archived"]


def normalise_question(text: str) -> str:
    """Case- and space-insensitive key, so near-identical variants count as duplicates."""
    return " ".join(text.split()).casefold()


class ArticleFields(BaseModel):
    """The editable fields of an article, without rules (stored rows are read as they are)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    slug: str
    title: str
    short_answer: str
    answer: str
    questions: list[str]
    category: str
    department: str
    language: str = "en"
    source_url: str
    valid_from: date | None = None
    valid_to: date | None = None
    status: Status = "published"


CONTENT_FIELDS: tuple[str, ...] = tuple(ArticleFields.model_fields)


def _error(kind: str, message: str, **context: object) -> PydanticCustomError:
    return PydanticCustomError(kind, message, context)


class ArticleData(ArticleFields):
    """An article as staff or an import submit it; every rule gives a message staff can act on."""

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG_PATTERN.fullmatch(value) or len(value) > 120:
            raise _error(
                "bad_slug",
                "slug '{slug}' must be lower-case letters and digits joined by single hyphens "
                "(e.g. 'bulky-waste-pickup'), at most 120 characters",
                slug=value,
            )
        return value

    @field_validator("title", "answer", "short_answer", "category", "department")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value:
            raise _error("empty", "must not be empty")
        return value

    @field_validator("short_answer")
    @classmethod
    def _short(cls, value: str) -> str:
        words = len(value.split())
        if words > SHORT_ANSWER_MAX_WORDS:
            raise _error(
                "short_answer_too_long",
                "short answer has {words} words; keep it to {limit} or fewer "
                "and put the rest in the answer",
                words=words,
                limit=SHORT_ANSWER_MAX_WORDS,
            )
        return value

    @field_validator("questions")
    @classmethod
    def _questions(cls, value: list[str]) -> list[str]:
        questions = [q.strip() for q in value]
        if not questions:
            raise _error("no_questions", "give at least 1 question a resident might ask")
        seen: dict[str, str] = {}
        for question in questions:
            if not question:
                raise _error("empty_question", "question variants must not be empty")
            key = normalise_question(question)
            if key in seen:
                raise _error(
                    "duplicate_question",
                    "duplicate question variant '{question}' (same as '{first}')",
                    question=question,
                    first=seen[key],
                )
            seen[key] = question
        return questions

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if not LANGUAGE_PATTERN.fullmatch(value):
            raise _error(
                "bad_language",
                "language '{language}' must be a language code like 'en' or 'es'",
                language=value,
            )
        return value

    @field_validator("source_url")
    @classmethod
    def _source_url(cls, value: str) -> str:
        parts = urlparse(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _error(
                "bad_source_url",
                "source_url '{url}' must be a web address starting with http:// or https://",
                url=value,
            )
        return value

    @model_validator(mode="after")
    def _validity(self) -> ArticleData:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise _error(
                "bad_validity",
                "valid_to ({valid_to}) is before valid_from ({valid_from})",
                valid_to=str(self.valid_to),
                valid_from=str(self.valid_from),
            )
        return self


def describe(error: ValidationError) -> str:
    """One line per problem, naming the field, for import reports and the console."""
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        lines.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(lines)


class ArticleView(ArticleFields):
    """An article's current state, as every caller reads it."""

    id: int
    revision: int
    updated_at: datetime
    author: str


class RevisionView(ArticleFields):
    """One saved revision of an article, for history, diff and rollback screens."""

    article_id: int
    number: int
    author: str
    note: str
    created_at: datetime


class UnansweredView(BaseModel):
    """A question the assistant could not answer, as staff see it."""

    id: int
    text: str
    language: str
    channel: str
    created_at: datetime
    resolved_article_id: int | None


@dataclass
class ImportReport:
    """What an import did (or, on a dry run or any error, would have done)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def __str__(self) -> str:
        summary = f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"
        if not self.errors:
            return summary
        problems = "\n".join(f"  row {row}: {message}" for row, message in self.errors)
        return f"{summary}; nothing applied, {len(self.errors)} error(s):\n{problems}"
