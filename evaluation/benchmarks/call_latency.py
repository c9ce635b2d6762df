"""How long a caller waits for an answer: end of their speech to the first byte of our reply.

Usage: ``python -m evaluation.benchmarks.call_latency [--calls 3] [--data-dir DIR]``.

Starts the server (``uvicorn channels.app:create_app`` in a subprocess, Twilio test
credentials, Media Streams) on a scratch data dir, or on ``--data-dir`` to skip the first
start's training. Then it plays calls as Twilio does, in real time: each caller turn is
espeak-ng speech degraded to a phone line, sent as base64 mu-law ``media`` messages, one
20 ms frame every 20 ms, followed by the line's silence, until our reply's first
``media`` message arrives. The end of speech is the end of the last frame loud enough
for the endpointer to count as speech.

What the caller waits is the end-of-speech quiet the endpointer needs to be sure
(``EndpointConfig.end_ms``) plus recognition, the assistant and synthesis of the first
sentence; both are printed. Target: under one second.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bot.identity import Hasher
from evaluation.benchmarks.server import hotline_server
from voice.audio import PHONE_RATE, frames, pcm16_to_mulaw, rms, silence, telephone_degrade
from voice.endpoint import EndpointConfig
from voice.tts import Synthesizer

TURNS = (
    "i want to report a pothole on main street",
    "there is a deep hole in the road",
    "no updates",
    "yes",
    "no",
    "how do i get a parking permit",
    "when is my bin collected",
    "operator",
)
ACCOUNT = "AC" + "0" * 32
FRAME_S = 0.02


def caller_audio(text: str, cache: Path) -> tuple[list[bytes], int]:
    """The turn as 20 ms mu-law frames, and how many frames it takes to the end of speech."""
    pcm16, _ = telephone_degrade(*Synthesizer(cache_dir=cache).synthesize(text))
    pcm = silence(200, PHONE_RATE) + pcm16
    level = EndpointConfig().speech_level
    pcm_frames = list(frames(pcm, PHONE_RATE, 20))
    spoken = max(i for i, frame in enumerate(pcm_frames) if rms(frame) >= level) + 1
    return [pcm16_to_mulaw(frame) for frame in pcm_frames], spoken


class Caller:
    """Twilio's side of one stream, in real time."""

    def __init__(self, websocket: ClientConnection, stream_sid: str) -> None:
        self.websocket = websocket
        self.stream_sid = stream_sid
        self.replies: asyncio.Queue[float] = asyncio.Queue()
        self._in_reply = False

    async def send(self, message: dict) -> None:
        await self.websocket.send(json.dumps({"streamSid": self.stream_sid, **message}))

    async def listen(self) -> None:
        """Time the first media message of each reply; "play" each reply at once (mark back)."""
        async for raw in self.websocket:
            message = json.loads(raw)
            if message["event"] == "media" and not self._in_reply:
                self._in_reply = True
                self.replies.put_nowait(time.perf_counter())
            elif message["event"] == "mark":
                self._in_reply = False
                await self.send({"event": "mark", "mark": message["mark"]})

    async def speak(self, mulaw_frames: list[bytes], spoken: int) -> float:
        """Send the turn in real time, then silence until the reply starts; the wait in s."""
        quiet = pcm16_to_mulaw(silence(20, PHONE_RATE))
        started = time.perf_counter()
        end_of_speech = started + spoken * FRAME_S
        index = 0
        while True:
            frame = mulaw_frames[index] if index < len(mulaw_frames) else quiet
            payload = base64.b64encode(frame).decode()
            await self.send({"event": "media", "media": {"track": "inbound", "payload": payload}})
            index += 1
            if not self.replies.empty():
                return self.replies.get_nowait() - end_of_speech
            if index > len(mulaw_frames) + 500:
                raise TimeoutError("no reply within 10 s of the end of speech")
            await asyncio.sleep(max(0.0, started + index * FRAME_S - time.perf_counter()))


async def play_call(url: str, hasher: Hasher, cache: Path) -> list[tuple[str, float]]:
    call_sid = "CA" + secrets.token_hex(16)
    caller = f"+1415555{secrets.randbelow(10**4):04d}"
    stream_sid = "MZ" + secrets.token_hex(16)
    waits = []
    async with connect(url, max_size=None) as websocket:
        side = Caller(websocket, stream_sid)
        listener = asyncio.create_task(side.listen())
        await side.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        start = {
            "streamSid": stream_sid,
            "accountSid": ACCOUNT,
            "callSid": call_sid,
            "tracks": ["inbound"],
            "customParameters": {
                "caller": caller,
                "token": hasher(f"voice-stream:{call_sid}:{caller}"),
            },
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        }
        await side.send({"event": "start", "start": start})
        await asyncio.wait_for(side.replies.get(), timeout=60)  # the greeting
        for text in TURNS:
            mulaw_frames, spoken = caller_audio(text, cache)
            try:
                waits.append((text, await side.speak(mulaw_frames, spoken)))
            except ConnectionClosed:  # the call ended early (heard as "operator", "goodbye")
                break
            await asyncio.sleep(0.3)  # the rest of the reply is sent; its mark comes back
        listener.cancel()
    return waits


def server_env(data_dir: Path, secret: str) -> dict[str, str]:
    """Twilio test credentials and Media Streams; no notices or dispatch competing for CPU."""
    return {
        "HOTLINE_DATA_DIR": str(data_dir),
        "HOTLINE_SECRET_KEY": secret,
        "HOTLINE_TWILIO_ACCOUNT_SID": ACCOUNT,
        "HOTLINE_TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "HOTLINE_VOICE_MODE": "stream",
        "HOTLINE_NOTICE_INTERVAL_SECONDS": "0",
        "HOTLINE_DISPATCH_IN_APP": "false",
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, help="reuse a data dir (skips first training)")
    args = parser.parse_args()
    secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="call-latency-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        with hotline_server(server_env(data_dir, secret)) as base:
            url = base.replace("http://", "ws://", 1) + "/webhooks/twilio/media"
            hasher = Hasher(secret.encode())
            cache = Path(tmp) / "tts"
            asyncio.run(play_call(url, hasher, cache))  # warm-up: models, caches
            waits = [
                wait
                for _ in range(args.calls)
                for wait in asyncio.run(play_call(url, hasher, cache))
            ]
    hangover = EndpointConfig().end_ms / 1000
    values = [wait for _, wait in waits]
    print(f"{len(values)} caller turns in {args.calls} calls, real-time 20 ms frames, loopback")
    for text, wait in waits[:12]:
        print(f"  {wait * 1000:6.0f} ms  {text}")
    print("end of speech -> first byte of reply audio (ms):")
    print(
        f"  p50 {percentile(values, 0.5) * 1000:.0f}  p95 {percentile(values, 0.95) * 1000:.0f}"
        f"  max {max(values) * 1000:.0f}  mean {statistics.mean(values) * 1000:.0f}"
    )
    print(
        f"  of which the endpointer's end-of-speech quiet: {hangover * 1000:.0f}; recognition, "
        f"assistant and first sentence: p50 {(percentile(values, 0.5) - hangover) * 1000:.0f}"
    )


if __name__ == "__main__":
    main()
