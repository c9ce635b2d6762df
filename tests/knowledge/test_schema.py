"""Validation messages staff see when an article is wrong."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from knowledge.schema import SHORT_ANSWER_MAX_WORDS, ArticleData, describe

GOOD: dict[str, Any] = {
    "slug": "street-lights",
    "title": "Broken street light",
    "short_answer": "Report a broken street light and we fix it within 5 days.",
    "answer": "Give the pole number if you can see it.",
    "questions": ["A street light is out", "Who fixes lamp posts?"],
    "category": "streets",
    "department": "Public Works",
    "source_url": "https://city.example/street-lights",
}


def problem(**changes: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        ArticleData(**{**GOOD, **changes})
    return describe(caught.value)


def test_a_good_article_is_accepted_with_defaults() -> None:
    article = ArticleData(**GOOD)
    assert (article.language, article.status, article.valid_to) == ("en", "published", None)


def test_surrounding_spaces_are_trimmed() -> None:
    article = ArticleData(**{**GOOD, "title": "  Broken street light ", "questions": [" Hi "]})
    assert (article.title, article.questions) == ("Broken street light", ["Hi"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": "   "}, "title: must not be empty"),
        ({"answer": ""}, "answer: must not be empty"),
        (
            {"short_answer": "word " * (SHORT_ANSWER_MAX_WORDS + 1)},
            "short_answer: short answer has 61 words; keep it to 60 or fewer",
        ),
        ({"questions": []}, "questions: give at least 1 question"),
        (
            {"questions": ["Who fixes  lamp posts?", "who fixes lamp POSTS?"]},
            "duplicate question variant 'who fixes lamp POSTS?' (same as 'Who fixes  lamp posts?')",
        ),
        ({"slug": "Street Lights"}, "slug: slug 'Street Lights' must be lower-case letters"),
        ({"slug": "street--lights"}, "joined by single hyphens"),
        ({"source_url": "ftp://city.example/x"}, "must be a web address starting with http"),
        ({"source_url": "javascript:alert(1)"}, "must be a web address starting with http"),
        ({"status": "live"}, "status: Input should be 'draft', 'published' or 'archived'"),
        (
            {"valid_from": "2025-03-01", "valid_to": "2025-02-01"},
            "valid_to (2025-02-01) is before valid_from (2025-03-01)",
        ),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_each_rule_names_the_field_and_the_fix(changes: dict[str, Any], message: str) -> None:
    assert message in problem(**changes)


def test_exactly_the_word_limit_is_fine() -> None:
    ArticleData(**{**GOOD, "short_answer": "word " * SHORT_ANSWER_MAX_WORDS})


def test_several_problems_are_reported_together() -> None:
    text = problem(title="", source_url="nowhere")
    assert "title: must not be empty" in text
    assert "source_url: source_url 'nowhere'" in text
