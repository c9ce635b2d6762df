"""The dialogue state kept per conversation, serialised as JSON in its tracker row."""

from __future__ import annotations

from pydantic import BaseModel, Field

from bot.contract import Choice, OutboundMessage


class PlaceSlot(BaseModel):
    address: str
    street: str | None = None
    district: str | None = None
    lat: float | None = None
    lon: float | None = None
    said: str | None = None  # how the resident named a place ("the market")


class ReportForm(BaseModel):
    """A problem report being filled in across turns."""

    service_code: str | None = None
    place: PlaceSlot | None = None
    description: str | None = None
    contact: str | None = None  # channel | phone | none
    channel: str | None = None  # the one the report is made on: wording of the contact choices
    phone: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    asking: str | None = None  # the slot the last bot message asked for
    confirming: bool = False
    place_options: list[PlaceSlot] = Field(default_factory=list)  # two places named: which?
    misses: int = 0  # answers in a row that the form could not use


class DialogueState(BaseModel):
    form: ReportForm | None = None
    last_messages: list[OutboundMessage] = Field(default_factory=list)
    choices: list[Choice] = Field(default_factory=list)
    # status_phone | language | drop | callback_phone | staff_message | district:<article id>
    awaiting: str | None = None
    # What the resident sent beside their words (a photo's reference, an MMS picture's URL),
    # by field name: it goes with the next report they file.
    attachments: dict[str, str] = Field(default_factory=dict)
    pending_reference: str | None = None
    where: list[str] = Field(default_factory=list)  # [district, street] the resident named
    last_digest: str | None = None  # of the resident's last message: is this one a repeat?
