"""The article form: what staff type, turned into ArticleData with a message per field.

Beyond the schema's own rules (empty answer, spoken answer too long, duplicate variant, ...)
it checks with KnowledgeSearch that no question variant is already answered by another
article, since the bot would then answer one of the two at random-looking cut-offs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from bot.runtime import Runtime
from knowledge.schema import ArticleData, ArticleView, normalise_question

FIELD_LABELS = {
    "slug": "Slug",
    "title": "Title",
    "short_answer": "Spoken answer",
    "answer": "Full answer",
    "questions": "Question variants",
    "category": "Category",
    "department": "Department",
    "language": "Language",
    "source_url": "Source URL",
    "valid_from": "Valid from",
    "valid_to": "Valid to",
    "status": "Status",
}


class ArticleForm(BaseModel):
    """The form as posted (every field text, so nothing is lost when it comes back with errors)."""

    slug: str = ""
    title: str = ""
    short_answer: str = ""
    answer: str = ""
    questions: str = ""  # one per line
    category: str = ""
    department: str = ""
    language: str = "en"
    source_url: str = ""
    valid_from: str = ""
    valid_to: str = ""
    status: str = "draft"
    note: str = ""
    save_anyway: str = ""  # ticked: questions may overlap other articles
    unanswered: str = ""  # ids of unanswered questions this article resolves

    @classmethod
    def from_article(cls, article: ArticleView) -> ArticleForm:
        return cls(
            slug=article.slug,
            title=article.title,
            short_answer=article.short_answer,
            answer=article.answer,
            questions="\n".join(article.questions),
            category=article.category,
            department=article.department,
            language=article.language,
            source_url=article.source_url,
            valid_from=article.valid_from.isoformat() if article.valid_from else "",
            valid_to=article.valid_to.isoformat() if article.valid_to else "",
            status=article.status,
        )


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:120].strip("-")


@dataclass
class Checked:
    data: ArticleData | None
    errors: dict[str, list[str]] = field(default_factory=dict)
    overlaps: list[str] = field(default_factory=list)

    @property
    def summary(self) -> list[tuple[str, str, str]]:
        """(field id, label, message) for the error summary at the top of the form."""
        out = [
            (name, FIELD_LABELS.get(name, name), message)
            for name, messages in self.errors.items()
            for message in messages
        ]
        return out + [("questions", FIELD_LABELS["questions"], m) for m in self.overlaps]


def check(runtime: Runtime, form: ArticleForm, article_id: int | None = None) -> Checked:
    """Validate the form; overlaps are reported unless 'save anyway' is ticked."""
    values = form.model_dump(exclude={"note", "save_anyway", "unanswered"})
    values["questions"] = [line for line in form.questions.splitlines() if line.strip()]
    if not values["slug"].strip():
        values["slug"] = slugify(form.title)
    for name in ("valid_from", "valid_to"):
        values[name] = values[name].strip() or None
    try:
        data = ArticleData.model_validate(values)
    except ValidationError as error:
        errors: dict[str, list[str]] = {}
        for item in error.errors():
            name = str(item["loc"][0]) if item["loc"] else "questions"
            errors.setdefault(name, []).append(_plain(item["msg"], item["type"]))
        if not form.slug.strip() and "title" in errors:
            errors.pop("slug", None)  # made from the title: the title's message says it all
        return Checked(None, errors)
    result = Checked(data)
    if not form.save_anyway:
        result.overlaps = overlaps(runtime, data, article_id)
    return result


def _plain(message: str, kind: str) -> str:
    if kind == "string_too_short" or kind == "empty":
        return "must not be empty"
    if kind == "date_from_datetime_parsing" or kind.startswith("date_"):
        return "must be a date like 2026-01-31"
    if kind == "literal_error":
        return "choose draft, published or archived"
    return message


def overlaps(runtime: Runtime, data: ArticleData, article_id: int | None) -> list[str]:
    """New question variants that another published article already answers on its own
    (variants the article had before were checked when they were added)."""
    threshold = runtime.assistant.answerer.thresholds.answer
    current = runtime.knowledge.get(article_id) if article_id is not None else None
    known = {normalise_question(q) for q in current.questions} if current else set()
    found = []
    for question in data.questions:
        if normalise_question(question) in known:
            continue
        hits = runtime.search.search(question, language=data.language, k=3)
        other = next((h for h in hits if h.article_id != article_id), None)
        if other is not None and other.score >= threshold:
            found.append(
                f"'{question}' already lands on the article '{other.title}' "
                f"(score {other.score:.2f}). Reword or remove it, or tick "
                "'Save even if questions overlap' if both articles should stay."
            )
    return found
