"""The YAML conversation suite under tests/conversations, played against the assistant."""

from __future__ import annotations

import pytest

from bot.runtime import Runtime
from evaluation.qa.conversations import (
    InProcessTarget,
    MovableClock,
    load_suite,
    run_conversation,
)
from tests.conftest import ROOT

SUITE = load_suite(ROOT / "tests" / "conversations")


def test_suite_is_broad_enough() -> None:
    assert len(SUITE) >= 30


@pytest.mark.parametrize("conversation", SUITE, ids=lambda c: f"{c.file.stem}:{c.name}")
def test_conversation(conversation, runtime: Runtime, clock: MovableClock) -> None:
    result = run_conversation(conversation, InProcessTarget(runtime, clock))
    report = "\n".join(
        f"step {s.index}: sent {s.sent!r} -> intent {s.intent}, replied {s.reply!r}: {s.failures}"
        for s in result.steps
        if s.failures
    )
    assert result.passed, report
