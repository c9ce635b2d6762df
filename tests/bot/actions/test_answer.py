"""How close candidates are offered: one suggestion is worded as one, several as a choice."""

from __future__ import annotations

from bot.dialogue.understanding import Understanding
from bot.runtime import Runtime
from knowledge.index import Hit


def near_miss(article_id: int, title: str, score: float) -> Hit:
    return Hit(article_id, f"a-{article_id}", title, score, score, score, title)


def test_one_suggestion_is_worded_as_one(runtime: Runtime) -> None:
    answerer = runtime.assistant.answerer
    between = (answerer.thresholds.suggest + answerer.thresholds.answer) / 2
    u = Understanding(intent="ask", confidence=0.9, text="bins")
    (one,) = answerer.answer(u, "en", [near_miss(1, "Bin collection days", between)]).messages
    assert [c.title for c in one.choices] == ["Bin collection days"]
    assert "which of these" not in one.text and "this" in one.text
    several = [near_miss(k, f"Article {k}", between - k / 1000) for k in (1, 2, 3)]
    (many,) = answerer.answer(u, "en", several).messages
    assert len(many.choices) == 3 and "which of these" in many.text


def test_a_retired_article_says_so_without_promising_choices(runtime: Runtime) -> None:
    message = runtime.assistant.answerer.article_message(10**9)
    assert message.choices == [] and "choose" not in message.text.lower()
