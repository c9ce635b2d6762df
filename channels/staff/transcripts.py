"""Transcript lines as staff read them: who spoke, when, and what they said in plain words
(a pressed button by its title, codes by bot/plain_words), for the pages and the live stream."""

from __future__ import annotations

from dataclasses import dataclass

from bot import plain_words
from bot.runtime import Runtime
from bot.storage.models import Turn
from channels.staff.web import when

WHO = {"in": "Resident", "bot": "Bot", "staff": "Staff"}


@dataclass(frozen=True)
class TurnView:
    id: int
    direction: str
    who: str
    when: str
    text: str
    detail: str  # intent and outcome in words, for the resident's and the bot's lines

    def as_event(self) -> dict[str, object]:
        return {
            "id": self.id,
            "direction": self.direction,
            "who": self.who,
            "when": self.when,
            "text": self.text,
            "detail": self.detail,
        }


def titles(runtime: Runtime) -> plain_words.PressedTitles:
    def article_title(article_id: int) -> str | None:
        found = runtime.knowledge.get(article_id)
        return found.title if found else None

    services = {s.code: s.name for s in runtime.catalogue.services}
    return plain_words.PressedTitles(services, article_title)


def views(runtime: Runtime, turns: list[Turn], channel: str | None) -> list[TurnView]:
    pressed = titles(runtime)
    rows = []
    for turn in turns:
        text = pressed(turn.text, channel) if turn.direction == "in" else turn.text
        if turn.direction == "in" and text != turn.text:
            text = f"Pressed: {text}"
        detail = " · ".join(
            part
            for part in (
                f"understood as {plain_words.intent(turn.intent)}" if turn.intent else "",
                plain_words.outcome(turn.outcome),
            )
            if part
        )
        rows.append(
            TurnView(
                turn.id,
                turn.direction,
                WHO.get(turn.direction, turn.direction),
                when(turn.created_at, runtime.settings.timezone),
                text,
                detail,
            )
        )
    return rows
