"""The phone line's domain language model covers what the call itself offers."""

from __future__ import annotations

from bot import replies
from bot.runtime import Runtime
from channels.voice_line import CHANNEL, domain_texts


def test_the_call_s_own_choice_titles_are_in_the_language_model(runtime: Runtime) -> None:
    texts = set(domain_texts(runtime))
    offered = replies.contact_choices(CHANNEL).values()

    assert "Text me at this number" in offered
    assert set(offered) <= texts
