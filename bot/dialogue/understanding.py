"""Turn a message into an intent and entities: choices and payloads first, then the NLU engine."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from bot.contract import Choice, InboundMessage, Location
from bot.nlu.engine import NLUEngine, ParseResult
from bot.nlu.entities import Entity
from bot.nlu.language import detect_language
from knowledge.embedder import Embedder

if TYPE_CHECKING:
    from bot.dialogue.choosing import ChoiceMatcher
    from bot.nlu.spelling import SpellCorrector

PAYLOAD_PREFIX = "/"
# A lone shared word or a likeness of meaning does not turn a new question into an answer
# ("where can I pay my water bill?" offered the request types is not "Water leak").
WEAK_PICKS = ("word", "meaning")
QUESTION_CONFIDENCE = 0.6
CONTROL_INTENTS = frozenset(
    ["cancel", "goodbye", "thank", "greet", "help", "repeat", "slower", "talk_to_human"]
)
_WH = r"(?:what|where|when|which|how|why|who|whom|whose)(?:'?s)?"  # "whats", as typed
QUESTION_START = re.compile(
    rf"^\s*(?:{_WH}|(?:can|could|do|does|is|are|will|should|would|may)(?:'s)?)\b",
    re.IGNORECASE,
)
ASKING_WORD = re.compile(rf"^\s*{_WH}\b", re.IGNORECASE)
DTMF_INTENTS = {"0": "talk_to_human", "*": "repeat"}


@dataclass
class Understanding:
    intent: str | None
    confidence: float
    text: str | None = None  # as understood: spelling corrected against our vocabulary
    raw_text: str | None = None  # as the resident wrote it, for what we keep (details)
    entities: list[Entity] = field(default_factory=list)
    argument: str | None = None  # of a chosen payload: "pothole" in "/service:pothole"
    vector: np.ndarray | None = None
    features: np.ndarray | None = None  # Embedder.features() of the text, for triage
    location: Location | None = None
    ranking: list[tuple[str, float]] = field(default_factory=list)
    picked: str | None = None  # how free text picked an offered choice (bot.dialogue.choosing)

    def entity(self, name: str) -> Entity | None:
        return next((e for e in self.entities if e.entity == name), None)

    def has_any(self, *names: str) -> bool:
        return any(e.entity in names for e in self.entities)


def is_question(u: Understanding) -> bool:
    text = u.raw_text or u.text or ""
    asked = text.rstrip().endswith("?") or bool(QUESTION_START.match(text))
    return asked and u.intent == "ask_question" and u.confidence >= QUESTION_CONFIDENCE


def asks_something(u: Understanding) -> bool:
    """ "what is the emergency number?" asks; it does not pick "my number" (a phrase pick)."""
    return is_question(u) and bool(ASKING_WORD.match(u.raw_text or u.text or ""))


def plainly_asks(u: Understanding) -> bool:
    """A question by its form alone: a question word first and a question mark last."""
    text = (u.raw_text or u.text or "").rstrip()
    return text.endswith("?") and bool(ASKING_WORD.match(text))


def is_control(u: Understanding) -> bool:
    """ "thanks bye" is a goodbye, not the likeness of "No, thanks" among the choices."""
    return u.intent in CONTROL_INTENTS and u.confidence >= QUESTION_CONFIDENCE


def payload(intent: str, argument: str | None = None) -> str:
    return f"{PAYLOAD_PREFIX}{intent}" + (f":{argument}" if argument is not None else "")


def parse_payload(text: str) -> tuple[str, str | None] | None:
    """``/intent`` or ``/intent:argument`` (the argument may hold spaces: a street name)."""
    if not text.startswith(PAYLOAD_PREFIX):
        return None
    intent, _, argument = text[1:].partition(":")
    if not intent.replace("_", "").isalnum() or not intent.isascii():
        return None
    return intent, argument.strip() or None


def _chosen(text: str, choices: list[Choice]) -> Choice | None:
    """A choice picked by its number ("2") or by its exact title."""
    cleaned = text.strip().rstrip(".").lower()
    if cleaned.isdigit() and 1 <= int(cleaned) <= len(choices):
        return choices[int(cleaned) - 1]
    return next((c for c in choices if c.title.lower() == cleaned), None)


class Interpreter:
    """Embeds each text once per turn; the vector serves intent and retrieval alike."""

    def __init__(
        self,
        nlu: NLUEngine,
        embedder: Embedder,
        matcher: ChoiceMatcher | None = None,
        speller: SpellCorrector | None = None,
    ) -> None:
        self.nlu = nlu
        self.embedder = embedder
        self.matcher = matcher
        self.speller = speller

    def prepare(self, message: InboundMessage) -> Understanding | None:
        """The NLU parse of free text, done before the turn's transaction: it needs no state
        and is most of a turn's time, so the database is held only for the short rest."""
        text = message.text
        if not text or parse_payload(text) or text.strip().rstrip(".").isdigit():
            return None
        return self.parse(text, message.location)

    def understand(
        self,
        message: InboundMessage,
        choices: list[Choice],
        prepared: Understanding | None = None,
    ) -> Understanding:
        if message.dtmf:
            picked = _chosen(message.dtmf, choices)
            if picked:
                return self._from_payload(picked.payload, message)
            if message.dtmf in DTMF_INTENTS:
                return Understanding(DTMF_INTENTS[message.dtmf], 1.0, location=message.location)
            if not message.text:
                return self.parse(message.dtmf, message.location)
        text = message.text
        if not text:
            if message.location is not None:
                return Understanding("share_location", 1.0, location=message.location)
            return Understanding(None, 0.0)
        picked = _chosen(text, choices)
        if picked:
            return self._from_payload(picked.payload, message)
        if parse_payload(text):
            return self._from_payload(text, message)
        return self._answering(prepared or self.parse(text, message.location), choices)

    def _answering(self, parsed: Understanding, choices: list[Choice]) -> Understanding:
        """Free text that answers the question asked picks its choice, whatever the global
        intent; the words still carry their entities (a phone number, a street)."""
        if self.matcher is None or not choices or not parsed.text:
            return parsed
        pick = self.matcher.pick(parsed.text, parsed.vector, choices)
        weak = pick is not None and pick.how in WEAK_PICKS
        if (
            pick is None
            or (weak and (is_question(parsed) or is_control(parsed)))
            or (pick.how == "phrase" and asks_something(parsed))
        ):
            return parsed
        if pick.choice is None:
            return replace(parsed, intent="none_of_these", confidence=1.0, picked=pick.how)
        chosen = parse_payload(pick.choice.payload)
        if chosen is None:
            return parsed
        intent, argument = chosen
        return replace(parsed, intent=intent, confidence=1.0, argument=argument, picked=pick.how)

    def parse(self, text: str, location: Location | None = None) -> Understanding:
        raw = text
        if self.speller is not None and detect_language(text) in (None, "en"):
            text = self.speller.correct(text)  # our vocabulary is English: leave others be
        embedded = self.embedder.features_one(text)
        result: ParseResult = self.nlu.parse(text, embedded)
        return Understanding(
            intent=result.intent,
            confidence=result.confidence,
            text=text,
            raw_text=raw,
            entities=list(result.entities),
            vector=embedded[: self.embedder.dim],  # the sentence vector, for retrieval
            features=embedded,
            location=location,
            ranking=list(result.ranking),
        )

    @staticmethod
    def _from_payload(text: str, message: InboundMessage) -> Understanding:
        parsed = parse_payload(text)
        if parsed is None:
            return Understanding(None, 0.0, text=text, location=message.location)
        intent, argument = parsed
        return Understanding(intent, 1.0, argument=argument, location=message.location)
