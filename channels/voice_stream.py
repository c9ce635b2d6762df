"""A call over a live audio stream: our recognition and synthesis, barge-in, no-input prompts.

The transport (Twilio Media Streams in ``channels/voice_twilio.py``) hands every inbound
20 ms frame, key press and playback mark to a :class:`StreamCall` and gives it a
:class:`StreamOutput` to send audio, marks and "clear" back through. In between:

- every frame goes to an :class:`~voice.endpoint.Endpointer`; while the caller speaks the
  frames are recognised as they arrive (:class:`~voice.live.EagerRecognition`, on one
  worker thread per call so frames stay in order and the event loop never decodes);
- when the utterance ends, the turn runs (:class:`~voice.call.CallSession`, on a thread:
  the assistant uses the database) and the reply is synthesized sentence by sentence and
  sent as soon as the first sentence is ready, followed by a mark;
- speech (or a key) while our audio plays is a barge-in: "clear" stops the playback and
  the caller's words are the next turn;
- once a prompt has played (its mark comes back) the no-input clock runs; silence becomes
  a :meth:`CallSession.silence` turn.

Latency (end of speech to the first byte of reply audio) is recorded per turn in
``latencies`` for ``evaluation/benchmarks/call_latency.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from channels.tasks import cancel
from channels.voice_line import VoiceLine
from voice.audio import PHONE_RATE
from voice.call import CallSession, CallTurn, phrases
from voice.endpoint import EndpointConfig, Endpointer, NoInput, SpeechStarted, Utterance
from voice.live import EagerRecognition

log = logging.getLogger(__name__)

EARLY_FINISH_MS = 280  # quiet after which the decode is finished speculatively (word gaps
# in a sentence reach 200 ms: at 200 most utterances were decoded twice)
KEY_PAUSE_MS = 2_000  # keys pressed without # count as one entry after this pause
IMMEDIATE_KEYS = frozenset("0*")
SORRY = "Sorry, something went wrong on our side. Please try again."


class StreamOutput(Protocol):
    """What a call sends back down the stream."""

    async def audio(self, mulaw: bytes) -> None: ...

    async def mark(self, name: str) -> None: ...

    async def clear(self) -> None: ...

    async def close(
        self, transfer: bool, emergency: bool = False, record: bool = False
    ) -> None: ...


@dataclass(frozen=True)
class _Input:
    kind: str  # start | speech | keys | silence
    recognition: EagerRecognition | None = None
    keys: str = ""
    ended_at: float = 0.0


class StreamCall:
    """One caller on a media stream (8 kHz PCM16 frames in, mu-law out)."""

    def __init__(
        self,
        line: VoiceLine,
        session: CallSession,
        output: StreamOutput,
        endpoint: EndpointConfig | None = None,
    ) -> None:
        self.line = line
        self.session = session
        self.output = output
        self.endpointer = Endpointer(endpoint)
        config = self.endpointer.config
        self._early = config.frames(EARLY_FINISH_MS)
        self._key_pause = config.frames(KEY_PAUSE_MS)
        self._asr = ThreadPoolExecutor(max_workers=1, thread_name_prefix="call-asr")
        self._inputs: asyncio.Queue[_Input] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._recognition: EagerRecognition | None = None
        self._keys = ""
        self._key_wait = 0
        self._marks = 0
        self._playing: str | None = None  # the mark that ends the audio being played
        self._busy = False
        self._closing: CallTurn | None = None
        self.latencies: list[float] = []
        self.turns: list[CallTurn] = []

    # -- from the transport ----------------------------------------------------------------
    async def begin(self) -> None:
        self._worker = asyncio.create_task(self._work())
        self._inputs.put_nowait(_Input("start"))

    async def frame(self, pcm16: bytes) -> None:
        """One inbound frame of the caller's audio (the endpointer's frame length)."""
        for event in self.endpointer.feed(pcm16):
            if isinstance(event, SpeechStarted):
                if event.barge_in:
                    await self._interrupt()
                self._recognition = EagerRecognition(
                    self.line.recognizer, PHONE_RATE, self.session.listen, self._early
                )
                self._submit(self._recognition.feed, event.preroll, 0)
            elif isinstance(event, Utterance) and self._recognition is not None:
                recognition, self._recognition = self._recognition, None
                self._push(_Input("speech", recognition, ended_at=time.perf_counter()))
            elif isinstance(event, NoInput) and not self._busy:
                self._push(_Input("silence"))
        if self._recognition is not None and self.endpointer.in_speech:
            self._submit(self._recognition.feed, pcm16, self.endpointer.quiet_frames)
        if self._keys:
            self._key_wait += 1
            if self._key_wait >= self._key_pause:
                self._flush_keys()

    async def key(self, digit: str) -> None:
        """One key press (DTMF)."""
        if self._playing:
            await self._interrupt()
        self.endpointer.disarm()
        if digit == "#":
            self._flush_keys()
            return
        self._keys += digit
        self._key_wait = 0
        single = self.session.listen.keys > 0 or digit in IMMEDIATE_KEYS
        if single and len(self._keys) == 1:
            self._flush_keys()

    async def played(self, name: str) -> None:
        """Our audio up to the mark ``name`` has finished playing."""
        if name != self._playing:
            return  # an older mark, or one cleared by a barge-in
        self._playing = None
        self.endpointer.playing = False
        if self._closing is not None:
            await self._close()
            return
        if not self._busy and self._inputs.empty() and not self.endpointer.in_speech:
            self.endpointer.arm()

    async def _close(self) -> None:
        closing = self._closing
        assert closing is not None
        await self.output.close(
            transfer=closing.handoff and not closing.hangup,
            emergency=closing.emergency,
            record=closing.record,
        )

    async def end(self) -> None:
        """The stream is over (the caller hung up): stop working on this call."""
        await cancel(self._worker)
        self._asr.shutdown(wait=False, cancel_futures=True)

    # -- inside --------------------------------------------------------------------------
    def _submit(self, function: Callable[..., object], *args: object) -> None:
        self._asr.submit(function, *args)

    def _push(self, item: _Input) -> None:
        self.endpointer.disarm()
        self._inputs.put_nowait(item)

    def _flush_keys(self) -> None:
        keys, self._keys, self._key_wait = self._keys, "", 0
        if keys:
            self._push(_Input("keys", keys=keys))

    async def _interrupt(self) -> None:
        """Barge-in: stop our audio now; the caller has the floor."""
        if self._playing is None:
            return
        self._playing = None
        self.endpointer.playing = False
        await self.output.clear()
        if self._closing is not None:  # talking over our goodbye: the call still ends
            await self._close()

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            item = await self._inputs.get()
            self._busy = True
            try:
                if item.kind == "start":
                    turn = await asyncio.to_thread(self.session.start)
                elif item.kind == "speech" and item.recognition is not None:
                    text = await loop.run_in_executor(self._asr, item.recognition.finish)
                    turn = await asyncio.to_thread(self.session.hear, text)
                elif item.kind == "keys":
                    turn = await asyncio.to_thread(self.session.press, item.keys)
                else:
                    turn = await asyncio.to_thread(self.session.silence)
                self.turns.append(turn)
                await self._play(turn, item.ended_at)
            except asyncio.CancelledError:
                raise
            except Exception:  # say so rather than leave the caller in silence
                log.exception("a call turn failed")
                apology = self._apology()
                self.turns.append(apology)
                await self._play(apology, 0.0)
            finally:
                self._busy = False

    def _apology(self) -> CallTurn:
        session = self.session
        speech = f"{SORRY} {session.state.prompt_speech}".strip()
        return CallTurn(None, SORRY, speech, session.speech_rate, session.listen)

    async def _play(self, turn: CallTurn, ended_at: float) -> None:
        """Send the reply sentence by sentence, then a mark to learn when it has played."""
        self._marks += 1
        mark = f"turn-{self._marks}"
        self._playing = mark
        self.endpointer.playing = True
        if turn.hangup or turn.handoff:
            self._closing = turn
        first = True
        for phrase in phrases(turn.speech):
            mulaw = await asyncio.to_thread(self.line.speak_phone, phrase, turn.rate)
            if self._playing != mark:
                return  # barged in: the rest is not wanted
            if first and ended_at:
                delay = time.perf_counter() - ended_at
                self.latencies.append(delay)
                log.debug("reply audio %.0f ms after the utterance ended", delay * 1000)
            first = False
            await self.output.audio(mulaw)
        if self._playing == mark:
            await self.output.mark(mark)
