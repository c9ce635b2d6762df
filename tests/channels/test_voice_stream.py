"""The stream call's own rules: how key presses are grouped, and a failed turn apologises."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.runtime import Runtime
from channels.voice_stream import SORRY, StreamCall
from tests.channels.voice_helpers import voice_line
from voice.audio import PHONE_RATE, frames, silence
from voice.call import BotMessage, BotReply, CallSession


@dataclass
class Output:
    events: list[tuple[str, object]] = field(default_factory=list)
    closed: bool = False

    async def audio(self, mulaw: bytes) -> None:
        self.events.append(("audio", len(mulaw)))

    async def mark(self, name: str) -> None:
        self.events.append(("mark", name))

    async def clear(self) -> None:
        self.events.append(("clear", None))

    async def close(self, transfer: bool, emergency: bool = False, record: bool = False) -> None:
        self.closed = True


@dataclass
class Assistant:
    sent: list[str | None] = field(default_factory=list)
    fail: bool = False

    def __call__(self, *, text: str | None = None, dtmf: str | None = None, turn: str) -> BotReply:
        if self.fail:
            raise RuntimeError("the database is down")
        self.sent.append(dtmf or text)
        return BotReply((BotMessage("Please tell me the number."),))


async def settle(output: Output, marks: int) -> None:
    for _ in range(600):
        if sum(kind == "mark" for kind, _ in output.events) >= marks:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {marks} replies: {output.events}")


def test_keys_are_one_entry_until_hash_or_a_pause(runtime: Runtime) -> None:
    async def scenario() -> list[str | None]:
        assistant, output = Assistant(), Output()
        session = CallSession(assistant, greeting="Hello.")  # no menu: keys are collected
        call = StreamCall(voice_line(runtime), session, output)
        await call.begin()
        await settle(output, 1)
        for digit in "12#":
            await call.key(digit)
        await settle(output, 2)
        for digit in "34":
            await call.key(digit)
        for frame in frames(silence(2_100, PHONE_RATE), PHONE_RATE, 20):
            await call.frame(frame)
        await settle(output, 3)
        await call.key("0")  # a person, at once
        await settle(output, 4)
        await call.end()
        return assistant.sent

    assert asyncio.run(scenario()) == ["12", "34", "0"]


def test_a_failed_turn_is_apologised_for_and_the_call_goes_on(runtime: Runtime) -> None:
    async def scenario() -> tuple[Output, StreamCall]:
        assistant, output = Assistant(fail=True), Output()
        session = CallSession(assistant, greeting="Hello.", menu=[("Report", "/report_problem")])
        call = StreamCall(voice_line(runtime), session, output)
        await call.begin()
        await settle(output, 1)
        await call.key("1")
        await settle(output, 2)
        await call.end()
        return output, call

    output, call = asyncio.run(scenario())
    assert [kind for kind, _ in output.events].count("mark") == 2
    assert call.turns[-1].text == SORRY
    assert call.turns[-1].speech.startswith(SORRY) and "Press 1 for Report" in call.turns[-1].speech
    assert not output.closed
