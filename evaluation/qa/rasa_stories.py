"""Rasa test stories (``test_stories.yml``) read as our conversations.

What maps: a ``user`` turn is sent as text, its ``intent`` (a retrieval intent such as
``faq/opening_hours`` is our ``ask_question``) and the entities annotated in the
text (``[Elm Street](street)``, ``[pot hole](service:pothole)``,
``[x]{"entity": "e", "value": "v"}``) become expectations. An ``action`` maps to a check
only through an action map (``{action_name: {expectation...}}``, e.g.
``utter_handoff: {handoff: true}``), because our replies are written by our dialogue, not
by Rasa's responses. Everything else (slots, active loops, checkpoints, ``or`` branches,
intent-only turns without text) is listed in ``Conversation.skipped_steps``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.qa.conversations import Conversation, SuiteError, validate_step

# Rasa's own markup: [text](entity), [text](entity:value), [text]{"entity": ..., "value": ...}
_ANNOTATION = re.compile(
    r"\[(?P<text>[^\]]+?)\]"
    r"(?:\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)|(?P<dict>\{[^}]+?\}))"
)


# Rasa's retrieval intents (faq/opening_hours) are questions answered from a list of
# responses: ours answers questions from the knowledge base, under this one intent.
RETRIEVAL_INTENT = "ask_question"


def our_intent(rasa_intent: str, intent_map: Mapping[str, str] | None = None) -> str:
    """Ours for theirs: the import's mapping first, then any retrieval intent."""
    if intent_map and rasa_intent in intent_map:
        return intent_map[rasa_intent]
    return RETRIEVAL_INTENT if "/" in rasa_intent else rasa_intent


@dataclass(frozen=True)
class Annotated:
    entity: str
    value: str
    text: str
    start: int
    end: int
    role: str | None = None


class AnnotationError(ValueError):
    """Entity markup that cannot be read."""


def strip_annotations(text: str) -> tuple[str, list[Annotated]]:
    """Plain text and the entities marked in it, with offsets into the plain text."""
    plain: list[str] = []
    entities: list[Annotated] = []
    position = 0
    length = 0
    for match in _ANNOTATION.finditer(text):
        before = text[position : match.start()]
        plain.append(before)
        length += len(before)
        surface = match.group("text")
        if match.group("dict"):
            try:
                spec = json.loads(match.group("dict"))
            except json.JSONDecodeError as exc:
                raise AnnotationError(f"bad entity markup {match.group(0)!r}: {exc}") from exc
            if not isinstance(spec, dict) or not spec.get("entity"):
                raise AnnotationError(f"entity markup without an entity: {match.group(0)!r}")
            entity, value = str(spec["entity"]), str(spec.get("value", surface))
            role = str(spec["role"]) if spec.get("role") else None
        else:
            entity = match.group("entity").strip()
            value = (match.group("value") or surface).strip()
            role = None
        entities.append(Annotated(entity, value, surface, length, length + len(surface), role))
        plain.append(surface)
        length += len(surface)
        position = match.end()
    plain.append(text[position:])
    return "".join(plain), entities


def _user_step(
    step: dict[str, Any], where: str, intent_map: Mapping[str, str] | None = None
) -> dict[str, Any]:
    try:
        text, entities = strip_annotations(str(step["user"]).strip())
    except AnnotationError as exc:
        raise SuiteError(f"{where}: {exc}") from exc
    expect: dict[str, Any] = {}
    intent = step.get("intent")
    if intent:
        expect["intent"] = our_intent(str(intent), intent_map)
    if entities:
        wanted: dict[str, list[str]] = {}
        for e in entities:  # several of one name in a turn: each is expected
            wanted.setdefault(e.entity + (f"#{e.role}" if e.role else ""), []).append(e.value)
        expect["entities"] = {k: v[0] if len(v) == 1 else v for k, v in wanted.items()}
    out: dict[str, Any] = {"user": text}
    if expect:
        out["expect"] = expect
    return out


def _describe(step: dict[str, Any]) -> str:
    key = next(iter(step), "?")
    return f"{key}: {step[key]!r}" if key != "?" else "empty step"


def conversations(
    file: Path,
    stories: list[Any],
    action_map: dict[str, dict[str, Any]] | None = None,
    intent_map: Mapping[str, str] | None = None,
) -> list[Conversation]:
    """Each story as a conversation; what could not be mapped goes in ``skipped_steps``."""
    action_map = action_map or {}
    result: list[Conversation] = []
    for number, story in enumerate(stories, 1):
        where = f"{file}: story {number}"
        if not isinstance(story, dict) or not isinstance(story.get("steps"), list):
            raise SuiteError(f"{where}: a story needs a list of 'steps'")
        name = str(story.get("story") or story.get("rule") or f"story {number}")
        steps: list[dict[str, Any]] = []
        skipped: list[str] = []
        for index, step in enumerate(story["steps"], 1):
            label = f"step {index}"
            if not isinstance(step, dict):
                raise SuiteError(f"{where}, {label}: a step is a mapping")
            if "user" in step:
                steps.append(_user_step(step, f"{where}, {label}", intent_map))
            elif "action" in step:
                action = str(step["action"])
                mapped = action_map.get(action)
                if mapped and steps:
                    expect = steps[-1].setdefault("expect", {})
                    for key, value in mapped.items():
                        expect.setdefault(key, value)
                elif action != "action_listen":
                    skipped.append(f"{label}: action {action} (no reply check mapped)")
            elif "intent" in step:
                skipped.append(f"{label}: intent {step['intent']} without user text")
            else:
                skipped.append(f"{label}: {_describe(step)} (not a turn we can play)")
        for index, step in enumerate(steps, 1):
            validate_step(step, f"{where}, mapped step {index}")
        result.append(Conversation(name, file, steps, "test", skipped))
    return result


def load_action_map(path: Path | None) -> dict[str, dict[str, Any]]:
    """An action map file: ``{action_name: {expectation: value}}``."""
    if path is None:
        return {}
    import yaml

    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise SuiteError(f"{path}: an action map is {{action: {{expectation: value}}}}")
    return raw
