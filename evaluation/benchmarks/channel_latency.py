"""Latency of one turn through each resident channel of a running server, on loopback.

Usage: ``python -m evaluation.benchmarks.channel_latency [--turns 200]``. Starts ``hotline
serve`` on a
scratch data dir with test credentials (Telegram pointed at a local fake Bot API), then plays
the same turns over REST, the Telegram webhook (Update JSON in, sendMessage out) and the
Twilio SMS webhook (signed form in, TwiML out), and prints p50/p95/p99 in milliseconds. The
difference to REST is what a channel adds: parsing, signature checks, rendering, receipts.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
import uuid
from collections.abc import Callable

import httpx

from channels.sms import HELP, OPT_OUT, keyword
from evaluation.benchmarks.latency import TURNS, report
from evaluation.benchmarks.server import hotline_server
from evaluation.qa.provider_fakes import (
    FakeTelegram,
    text_update,
    twilio_signature,
    twilio_sms_form,
)
from evaluation.qa.targets import RestTarget


def measure(name: str, turns: int, send: Callable[[int, str], None]) -> None:
    for text in TURNS:  # warm-up, one resident
        send(-1, text)
    samples: list[float] = []
    started = time.perf_counter()
    for i in range(turns):
        t0 = time.perf_counter()
        send(i // len(TURNS), TURNS[i % len(TURNS)])
        samples.append((time.perf_counter() - t0) * 1000)
    report(name, samples, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    token = f"{secrets.randbelow(10**9)}:{secrets.token_urlsafe(24)}"
    secret, sid, auth = (
        secrets.token_urlsafe(16),
        "AC" + secrets.token_hex(16),
        secrets.token_hex(16),
    )
    run = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as data_dir, FakeTelegram(token) as bot_api:
        env = {
            "HOTLINE_DATA_DIR": data_dir,
            "HOTLINE_TELEGRAM_BOT_TOKEN": token,
            "HOTLINE_TELEGRAM_SECRET_TOKEN": secret,
            "HOTLINE_TELEGRAM_API_URL": bot_api.url,
            "HOTLINE_TWILIO_ACCOUNT_SID": sid,
            "HOTLINE_TWILIO_AUTH_TOKEN": auth,
            "HOTLINE_RATE_LIMIT_SENDER": "100000/minute",
            "HOTLINE_RATE_LIMIT_CHANNEL": "1000000/minute",
        }
        with (
            hotline_server(env, timeout=300) as base,
            httpx.Client(base_url=base, timeout=60) as client,
        ):
            target = RestTarget(base, client=client)  # web sessions: a cookie per resident

            def rest(who: int, text: str) -> None:
                target.send({"sender": f"{run}-{who}", "text": text})

            def telegram(who: int, text: str) -> None:
                update = text_update(10**9 + who + 2, text)
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
                client.post("/webhooks/telegram", json=update, headers=headers).raise_for_status()

            def sms(who: int, text: str) -> None:
                if keyword(text) in OPT_OUT | HELP:  # a bare CANCEL would opt the number out
                    text = f"{text} please"
                form = twilio_sms_form(f"+1555{who + 2:07d}", text, sid)
                url = f"{base}/webhooks/twilio/sms"
                headers = {"X-Twilio-Signature": twilio_signature(auth, url, form)}
                client.post("/webhooks/twilio/sms", data=form, headers=headers).raise_for_status()

            measure("REST", args.turns, rest)
            measure("Telegram", args.turns, telegram)
            measure("SMS", args.turns, sms)
            print(f"Telegram replies sent to the fake Bot API: {len(bot_api.sent())}")


if __name__ == "__main__":
    main()
