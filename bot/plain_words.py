"""Internal codes in the words staff read: what a resident pressed, statuses, intents, outcomes.

A pressed button reaches the transcript as its payload (``/details:37``); staff see the
button's title instead ("More details: Bulky waste"). Every page, chart and export that shows
staff a code goes through this one module, so a code never shows up raw in one place and in
words in another. An unknown code is shown with its underscores as spaces, never hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot import replies
from bot.assistant import AFTER_HOURS, BACK_TO_BOT, DROP_CHOICES, MENU, PERSON
from bot.dialogue.report import CHANGEABLE
from bot.dialogue.understanding import parse_payload

INTENTS = {
    "greet": "greeting",
    "goodbye": "goodbye",
    "thank": "thanks",
    "affirm": "yes",
    "deny": "no",
    "cancel": "cancel",
    "help": "asks for help",
    "ask_question": "question",
    "report_problem": "report a problem",
    "check_status": "check a report",
    "talk_to_human": "talk to a person",
    "repeat": "repeat that",
    "slower": "slower, please",
    "change_language": "change language",
    "out_of_scope": "off topic",
    "contact": "how to be contacted",
    "service": "type of problem",
    "article": "picked an article",
    "details": "more details",
    "change": "change an answer",
    "field": "answer to a form question",
    "drop": "drop the report",
    "callback": "call me back",
    "leave_message": "leave a message",
    "locate": "picked a place",
    "pick_place": "picked a place",
    "request": "picked a report",
    "language": "picked a language",
}
REQUEST_STATUSES = {
    "submitted": "submitted",
    "acknowledged": "acknowledged",
    "in_progress": "in progress",
    "closed": "closed",
    "rejected": "rejected",
}
HANDOFF_STATUSES = {"waiting": "waiting", "taken": "taken", "closed": "handed back"}
NOTICE_STATUSES = {
    "pending": "waiting to be sent",
    "sending": "being sent",
    "sent": "sent",
    "delivered": "delivered",
    "failed": "not delivered",
}
OUTCOMES = {
    "answered": "answered",
    "suggested": "articles offered",
    "unanswered": "not answered (\u201cI don't know\u201d)",
    "not_understood": "not understood",
    "out_of_scope": "off topic",
    "form": "filling in a report",
    "filed": "request filed",
    "status": "report status given",
    "handoff": "passed to a person",
    "emergency": "possible emergency",
    "crisis": "possible crisis",
}
CONTACT = {"channel": "on their channel", "phone": "by phone", "none": "no updates"}
CHANNELS = {
    "web": "web chat",
    "sms": "SMS",
    "telegram": "Telegram",
    "voice": "phone call",
    "console": "console",
}
# Buttons whose payload never changes, titled as the resident saw them.
FIXED_CHOICES = {
    c.payload: c.title for c in [*MENU, PERSON, BACK_TO_BOT, *DROP_CHOICES, *AFTER_HOURS]
} | {
    "/affirm": "Yes",
    "/deny": "No",
    "/thank": "No, thanks",
}


def word(code: str | None, table: Mapping[str, str]) -> str:
    """A code in words: from its table, else with underscores as spaces."""
    if not code:
        return ""
    return table.get(code, code.replace("_", " "))


def intent(code: str | None) -> str:
    return word(code, INTENTS)


def request_status(code: str | None) -> str:
    return word(code, REQUEST_STATUSES)


def handoff_status(code: str | None) -> str:
    return word(code, HANDOFF_STATUSES)


def notice_status(code: str | None) -> str:
    return word(code, NOTICE_STATUSES)


def outcome(code: str | None) -> str:
    return word(code, OUTCOMES)


def contact(code: str | None) -> str:
    return word(code, CONTACT)


def channel(code: str | None) -> str:
    return word(code, CHANNELS)


class PressedTitles:
    """What a resident pressed, from the payload their button sent.

    ``services`` maps service codes to names; ``article_title`` gives an article's title by id
    (None when it is gone). Text that is not a payload comes back unchanged.
    """

    def __init__(
        self, services: Mapping[str, str], article_title: Callable[[int], str | None]
    ) -> None:
        self.services = services
        self.article_title = article_title

    def __call__(self, text: str, channel: str | None = None) -> str:
        parsed = parse_payload(text or "")
        if parsed is None:
            return text
        if text in FIXED_CHOICES:
            return FIXED_CHOICES[text]
        kind, argument = parsed
        argument = argument or ""
        if kind == "contact":
            return replies.contact_choices(channel).get(argument, contact(argument))
        if kind == "change":
            return CHANGEABLE.get(argument, argument)
        if kind == "service":
            return self.services.get(argument, argument.replace("_", " "))
        if kind in ("article", "details"):
            title = self.article_title(int(argument)) if argument.isdigit() else None
            title = title or "an article no longer in the knowledge base"
            return title if kind == "article" else f"More details: {title}"
        if kind == "field":
            return argument.partition("=")[2].capitalize() or argument
        if kind == "pick_place" and argument.isdigit():
            return f"Place {int(argument) + 1} of those offered"
        if kind in ("locate", "request", "language") and argument:
            return argument
        return intent(kind).capitalize()
