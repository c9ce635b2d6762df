"""The one contract every channel uses: an InboundMessage in, a Reply out.

A channel turns its transport into an ``InboundMessage``, calls ``Assistant.handle`` and
renders the ``Reply`` in its own medium. The assistant never knows the transport.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, computed_field, field_validator, model_validator

from bot.phone_links import phone_spans

_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069"
    r"\ud800-\udfff]"  # and lone UTF-16 surrogates (JSON's "\ud800"), which no text may hold
)
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def no_surrogates(value: str | None) -> str | None:
    """Refuse a lone surrogate in an identifier: it could be neither stored nor logged."""
    if value is not None and _SURROGATE.search(value):
        raise ValueError("contains a lone UTF-16 surrogate, which is not text")
    return value


DTMF_KEYS = re.compile(r"^[0-9*#]{1,32}$")


def clean_text(text: str) -> str:
    """Strip control and bidi-override characters; keep every script and emoji."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return text.strip()


class Location(BaseModel):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    label: str | None = Field(default=None, max_length=200)

    @field_validator("label")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        return clean_text(value) or None if value is not None else None


class InboundMessage(BaseModel):
    """What a resident sent, whatever the channel."""

    channel: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")
    sender: str = Field(min_length=1, max_length=200)
    text: str | None = None
    audio: bytes | None = Field(default=None, exclude=True)
    location: Location | None = None
    dtmf: str | None = None
    language: str | None = Field(default=None, max_length=16)
    message_id: str = Field(default_factory=lambda: uuid.uuid4().hex, min_length=1, max_length=200)
    received_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("text")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return clean_text(value) or None

    @field_validator("channel", "sender", "message_id", "language")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        return no_surrogates(value)

    @field_validator("dtmf")
    @classmethod
    def _dtmf(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not DTMF_KEYS.match(value):
            raise ValueError("dtmf must be digits, * or # (at most 32)")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> InboundMessage:
        if not (self.text or self.audio or self.location or self.dtmf):
            raise ValueError("a message needs text, audio, a location or DTMF digits")
        return self


class Choice(BaseModel):
    """An option the resident can pick: a button, a numbered SMS reply, a phone digit."""

    title: str
    payload: str


class Source(BaseModel):
    title: str
    url: str


class TextPart(BaseModel):
    """A run of a message's text; ``tel`` (a tel: URI) when the run is a number to call."""

    text: str
    tel: str | None = None


def text_parts(text: str) -> list[TextPart]:
    """``text`` cut into plain runs and phone numbers, for screens that link the numbers."""
    parts: list[TextPart] = []
    cursor = 0
    for span in phone_spans(text):
        if span.start > cursor:
            parts.append(TextPart(text=text[cursor : span.start]))
        parts.append(TextPart(text=text[span.start : span.end], tel=span.tel))
        cursor = span.end
    if cursor < len(text) or not parts:
        parts.append(TextPart(text=text[cursor:]))
    return parts


class OutboundMessage(BaseModel):
    text: str
    speech: str | None = None  # what a voice channel says when it should differ from text
    choices: list[Choice] = Field(default_factory=list)
    source: Source | None = None
    ends_conversation: bool = False
    handoff: bool = False
    alert: str | None = None  # "emergency" or "crisis": the emergency number or crisis line

    @property
    def spoken(self) -> str:
        return self.speech or self.text

    @computed_field  # type: ignore[prop-decorator]
    @property
    def parts(self) -> list[TextPart]:
        """The text with its phone numbers marked, so the web chat can make them links."""
        return text_parts(self.text)


class EntityOut(BaseModel):
    entity: str
    value: str
    text: str
    role: str | None = None
    group: str | None = None


class Reply(BaseModel):
    """The messages to render, plus what the assistant understood and did (for tests and logs)."""

    messages: list[OutboundMessage]
    intent: str | None = None
    confidence: float | None = None
    entities: list[EntityOut] = Field(default_factory=list)
    filed_reference: str | None = None
    handoff: bool = False
    alert: str | None = None  # triage found an emergency or a crisis (bot/triage.py)
    language: str = "en"
    prefs: dict[str, Any] = Field(default_factory=dict)

    def __iter__(self) -> Iterator[OutboundMessage]:  # type: ignore[override]
        return iter(self.messages)

    @property
    def text(self) -> str:
        return "\n\n".join(m.text for m in self.messages)

    @property
    def choices(self) -> list[Choice]:
        return [c for m in self.messages for c in m.choices]
