"""Which of a Rasa project's intents are the city's own built-in intents under another name.

An imported ``human_handoff`` trained beside our ``talk_to_human`` takes "I want to talk to a
real person" away from it, and our dialogue, which knows only its own intents, never hands
off. So each imported intent is compared with ours by name (known aliases) and by its
examples (the share of them whose nearest example of ours, by sentence embedding, belongs to
one intent), and is mapped, kept as its own, or reported as unsure for the team to decide
with ``--map THEIRS=OURS`` or ``--keep THEIRS``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

RETRIEVAL_INTENT = "ask_question"
# Names teams give the intents our dialogue has built in.
ALIASES: dict[str, frozenset[str]] = {
    "talk_to_human": frozenset(
        {
            "human_handoff",
            "handoff",
            "human",
            "agent",
            "live_agent",
            "request_human",
            "speak_to_human",
            "talk_to_agent",
            "operator",
        }
    ),
    "goodbye": frozenset({"bye", "farewell", "exit", "good_bye"}),
    "affirm": frozenset({"confirm", "yes", "agree", "accept", "affirmative"}),
    "deny": frozenset({"no", "reject", "decline", "negative", "disagree"}),
    "thank": frozenset({"thanks", "thankyou", "thank_you", "gratitude"}),
    "greet": frozenset({"hello", "hi", "greeting", "greetings"}),
    "cancel": frozenset({"stop", "abort", "nevermind", "never_mind", "quit"}),
    "help": frozenset({"get_help", "assistance", "capabilities", "what_can_you_do"}),
    "repeat": frozenset({"say_again", "repeat_that"}),
    "out_of_scope": frozenset({"nlu_fallback", "oos", "outofscope"}),
}
NEIGHBOUR_SIMILARITY = 0.6  # an example of theirs "votes" for ours when this close (cosine)
SURE_BY_NAME = 0.3  # an alias whose examples agree this often is mapped
SURE_BY_EXAMPLES = 0.7  # without an alias name, the examples must agree this often
UNSURE = 0.4


@dataclass(frozen=True)
class Decision:
    intent: str
    target: str | None  # ours, when mapped or suggested
    status: str  # "same name", "mapped", "unsure", "kept"
    why: str


def _votes(theirs: np.ndarray, ours: np.ndarray, labels: list[str]) -> Counter[str]:
    """For each of their examples, the intent of its nearest example of ours, if close."""
    similarity = theirs @ ours.T
    best = similarity.argmax(axis=1)
    close = similarity[np.arange(len(theirs)), best] >= NEIGHBOUR_SIMILARITY
    return Counter(labels[i] for i, c in zip(best, close, strict=True) if c)


def decide(
    their_examples: Mapping[str, list[str]],
    our_examples: Mapping[str, list[str]],
    encode: object,
    forced: Mapping[str, str] | None = None,
    kept: set[str] | None = None,
) -> list[Decision]:
    """One decision per imported intent. ``encode`` embeds a list of texts (unit vectors)."""
    forced, kept = dict(forced or {}), set(kept or ())
    labels = [i for i, texts in our_examples.items() for _ in texts]
    ours = np.asarray(encode([t for texts in our_examples.values() for t in texts]))
    decisions = []
    for intent, texts in their_examples.items():
        alias = next((ours_ for ours_, names in ALIASES.items() if intent in names), None)
        if intent in forced:
            decisions.append(Decision(intent, forced[intent], "mapped", "--map"))
            continue
        if intent in our_examples or intent in kept or not texts:
            status = "same name" if intent in our_examples else "kept"
            why = "--keep" if intent in kept else "one of ours" if status == "same name" else ""
            decisions.append(
                Decision(intent, intent if status == "same name" else None, status, why)
            )
            continue
        votes = _votes(np.asarray(encode(texts)), ours, labels)
        target, count = votes.most_common(1)[0] if votes else (None, 0)
        share = count / len(texts)
        alias_share = votes.get(alias, 0) / len(texts) if alias else 0.0
        if alias and alias_share >= SURE_BY_NAME:
            why = f"name, and {alias_share:.0%} of its examples are closest to {alias}'s"
            decisions.append(Decision(intent, alias, "mapped", why))
        elif target and share >= SURE_BY_EXAMPLES:
            why = f"{share:.0%} of its examples are closest to {target}'s"
            decisions.append(Decision(intent, target, "mapped", why))
        elif alias or (target and share >= UNSURE):
            suggestion = alias or target
            shown = alias_share if alias else share
            why = f"{shown:.0%} of its examples are closest to {suggestion}'s"
            decisions.append(Decision(intent, suggestion, "unsure", why))
        else:
            decisions.append(Decision(intent, None, "kept", "no built-in intent like it"))
    return decisions
