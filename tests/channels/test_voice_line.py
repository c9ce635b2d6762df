"""The phone line's domain language model covers what the call itself offers."""

from __future__ import annotations

import pytest

from bot import replies
from bot.runtime import Runtime
from channels.voice_line import CHANNEL, caller_id, domain_texts


def test_the_call_s_own_choice_titles_are_in_the_language_model(runtime: Runtime) -> None:
    texts = set(domain_texts(runtime))
    offered = replies.contact_choices(CHANNEL).values()

    assert "Text me at this number" in offered
    assert set(offered) <= texts


@pytest.mark.parametrize(
    "placeholder",
    [
        "+8656696",
        "+86282452253",
        "+266696687",
        "+7378742833",
        "8656696",
        "86282452253",
        "anonymous",
        "Restricted",
        "UNKNOWN",
        "unavailable",
        "",
        " ",
    ],
)
def test_withheld_callers_get_a_conversation_per_call(placeholder: str) -> None:
    """Twilio's placeholders (words and their keypad spellings) name nobody: two calls from
    one of them never share a conversation, and no SMS can be offered (not a +number)."""
    first, second = caller_id(placeholder, "CA1"), caller_id(placeholder, "CA2")
    assert first == "call:CA1" and second == "call:CA2"


def test_a_real_number_is_kept_as_e164() -> None:
    assert caller_id("+1 (206) 555-0100", "CA1") == "+12065550100"
    assert caller_id("+8613812345678", "CA1") == "+8613812345678"
