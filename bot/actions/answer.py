"""Answer from the knowledge base: answer, offer the close candidates, or admit we don't know."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot import replies
from bot.contract import Choice, OutboundMessage, Source
from bot.dialogue.understanding import Understanding, payload
from knowledge.index import Hit
from knowledge.schema import ArticleView
from knowledge.search import KnowledgeSearch
from knowledge.service import KnowledgeService


@dataclass(frozen=True)
class AnswerThresholds:
    """Fused-score cut-offs from the held-out paraphrases against CLINC150's off-topic queries.

    Right answers score 0.43 / 0.54 / 0.64 (p10 / median / p90); at 0.40 about 10% of
    off-topic questions still pass, so below it we admit we don't know (docs/benchmarks.md).
    """

    answer: float = 0.50
    suggest: float = 0.40
    margin: float = 0.04
    max_choices: int = 3


@dataclass
class Answer:
    messages: list[OutboundMessage]
    outcome: str  # answered | suggested | unanswered
    article_id: int | None = None  # the article answered with


_SENTENCE = re.compile(r"(?<=[.!?])\s+")
# An answer that names more than half the city's districts (bin days, branch libraries,
# bus routes) differs by district; one naming a few (the flood-prone ones) does not.
DISTRICT_SHARE = 0.5


def _segments(text: str) -> list[str]:
    """Sentences, and the items of a sentence that lists places with semicolons."""
    parts: list[str] = []
    for sentence in _SENTENCE.split(text.strip()):
        parts += [p.strip() for p in sentence.split(";")] if ";" in sentence else [sentence]
    return [p for p in parts if p]


class Answerer:
    def __init__(
        self,
        search: KnowledgeSearch,
        service: KnowledgeService,
        thresholds: AnswerThresholds | None = None,
        districts: tuple[str, ...] = (),
    ) -> None:
        self.search = search
        self.service = service
        self.thresholds = thresholds or AnswerThresholds()
        self.districts = districts

    def hits(self, u: Understanding, language: str) -> list[Hit]:
        if not u.text:
            return []
        return self.search.search(u.text, u.vector, language=language, k=5)

    def answer(self, u: Understanding, language: str, hits: list[Hit] | None = None) -> Answer:
        """``hits`` when the caller already searched for this turn."""
        t = self.thresholds
        hits = self.hits(u, language) if hits is None else hits
        top = hits[0] if hits else None
        if (
            top
            and top.score >= t.answer
            and (len(hits) == 1 or top.score - hits[1].score >= t.margin)
        ):
            return Answer([self.article_message(top.article_id)], "answered", top.article_id)
        close = [h for h in hits if h.score >= t.suggest][: t.max_choices]
        if close:
            choices = [
                Choice(title=h.title, payload=payload("article", str(h.article_id))) for h in close
            ]
            return Answer(
                [OutboundMessage(text=replies.did_you_mean(len(choices)), choices=choices)],
                "suggested",
            )
        return Answer(
            [
                OutboundMessage(
                    text=replies.DONT_KNOW,
                    choices=[
                        Choice(title="Talk to a person", payload=payload("talk_to_human")),
                        Choice(title="No, thanks", payload=payload("thank")),
                    ],
                )
            ],
            "unanswered",
        )

    def record_unanswered(self, text: str, language: str, channel: str) -> None:
        """For staff to turn into articles; called after the turn commits (one SQLite writer)."""
        self.service.record_unanswered(text, language, channel)

    def _named(self, text: str) -> list[str]:
        return [d for d in self.districts if re.search(rf"\b{re.escape(d)}\b", text)]

    def varies_by_district(self, article_id: int) -> bool:
        """An answer that lists several districts (bin days, branch libraries) differs by
        where the resident lives."""
        article = self.service.get(article_id)
        if article is None or not self.districts:
            return False
        return len(self._named(article.answer)) > DISTRICT_SHARE * len(self.districts)

    def district_message(
        self, article_id: int, district: str, street: str | None
    ) -> OutboundMessage:
        """The article for one district: what it says of that district, and what it says
        of everyone (the short answer's sentences that name no district)."""
        article = self.service.get(article_id)
        if article is None:
            return OutboundMessage(text=replies.NOT_UNDERSTOOD)
        short = _segments(article.short_answer)
        own = [p for p in short if district in self._named(p)] or [
            p for p in _segments(article.answer) if district in self._named(p)
        ]
        if not own:  # the article says nothing of this district: the answer for everyone
            return self.article_message(article_id)
        general = [p for p in short if not self._named(p)]
        body = " ".join(p if p.endswith((".", "!", "?")) else f"{p}." for p in own + general)
        where = f"{street} ({district})" if street else district
        text = replies.FOR_DISTRICT.format(where=where, answer=body)
        return OutboundMessage(
            text=text,
            speech=text,
            source=Source(title=article.title, url=article.source_url),
            choices=[Choice(title="More details", payload=payload("details", str(article.id)))],
        )

    def article_message(self, article_id: int, detailed: bool = False) -> OutboundMessage:
        article: ArticleView | None = self.service.get(article_id)
        if article is None or article.status != "published":
            return OutboundMessage(text=replies.ARTICLE_GONE)
        if detailed:
            return OutboundMessage(
                text=article.answer,
                speech=article.answer,
                source=Source(title=article.title, url=article.source_url),
            )
        return OutboundMessage(
            text=article.short_answer,
            speech=article.short_answer,
            source=Source(title=article.title, url=article.source_url),
            choices=[Choice(title="More details", payload=payload("details", str(article.id)))],
        )
