"""Live streams (channels/live.py) on a real server: who may open one, how many, and that
they all end when the server stops instead of holding it up."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
import uvicorn
from sse_starlette.sse import AppStatus

from bot.runtime import Runtime
from bot.storage.models import Notice
from channels import live
from channels.app import SERVER_OPTIONS
from evaluation.benchmarks.server import free_port
from tests.channels.channel_helpers import WebResident, app_for, serve

STREAM = "/api/v1/notices/stream"


def next_line(lines: Iterator[str]) -> str:
    """The next line of an event stream that is not blank."""
    return next(line for line in lines if line)


def test_a_stream_needs_the_session_cookie_and_a_same_site_page(runtime: Runtime) -> None:
    with serve(app_for(runtime)) as url, httpx.Client(base_url=url, timeout=10) as client:
        assert client.get(STREAM).status_code == 401  # no session: nothing to listen to
        forged = client.get(STREAM, headers={"Cookie": "hotline_chat=" + "a" * 30 + ".bad"})
        assert forged.status_code == 401
        resident = WebResident(client)
        resident.notices()  # the session cookie
        cookie = "; ".join(f"{k}={v}" for k, v in resident.cookies.items())
        cross = client.get(STREAM, headers={"Cookie": cookie, "Sec-Fetch-Site": "cross-site"})
        assert cross.status_code == 403


def test_a_waiting_notice_is_announced_and_streams_are_capped_and_end_at_shutdown(
    runtime: Runtime,
) -> None:
    app = app_for(runtime)
    registry = live.streams(app)
    with serve(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        resident = WebResident(client)
        resident.notices()
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in resident.cookies.items())}
        with runtime.db.transaction() as session:
            session.add(Notice(channel="web", address=resident.sender, text="Hello from Ana"))
        with ExitStack() as streams:
            opened = []
            for _ in range(registry.per_client):
                response = streams.enter_context(client.stream("GET", STREAM, headers=headers))
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                lines = response.iter_lines()
                assert next_line(lines) == ": open"
                opened.append(lines)
            announced = [next_line(opened[0]) for _ in range(3)]
            assert "event: notice" in announced, announced
            assert client.get(STREAM, headers=headers).status_code == 429  # one tab too many
            # The notice itself comes from the pickup, once, with its text.
            assert [n["text"] for n in resident.notices()] == ["Hello from Ana"]
            stopping = time.monotonic()
            registry.close()
            for lines in opened:
                list(lines)  # ends: the server closed the stream
            assert time.monotonic() - stopping < 5
        assert registry.open_for(f"web:{resident.sender}") == 0


@pytest.mark.parametrize("header, fallback, expected", [("41", 7, 41), (None, 7, 7), ("x", 3, 3)])
def test_the_browser_s_last_event_id_wins_over_the_page_s(
    header: str | None, fallback: int, expected: int
) -> None:
    assert live.last_event_id(header, fallback) == expected


def test_a_wake_ends_every_pause_at_once_from_any_thread() -> None:
    streams = live.Streams(poll=30)

    async def two_pauses() -> float:
        started = time.monotonic()
        waiting = asyncio.gather(streams.pause(), streams.pause())
        await asyncio.sleep(0.05)
        threading.Thread(target=streams.wake).start()  # a route running in a worker thread
        await waiting
        return time.monotonic() - started

    assert asyncio.run(two_pauses()) < 5  # not the 30 s poll


def test_without_a_wake_a_pause_lasts_the_poll() -> None:
    streams = live.Streams(poll=0.2)

    async def pause() -> float:
        started = time.monotonic()
        await streams.pause()
        return time.monotonic() - started

    assert asyncio.run(pause()) >= 0.19


def test_uvicorn_s_shutdown_signal_ends_open_streams(runtime: Runtime) -> None:
    """What SIGTERM does to `hotline serve`: uvicorn's handle_exit, which sse-starlette
    watches, ends the streams, so the server stops instead of waiting for the browsers."""
    app = app_for(runtime)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **SERVER_OPTIONS)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            resident = WebResident(client)
            resident.notices()
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in resident.cookies.items())}
            with client.stream("GET", STREAM, headers=headers) as response:
                lines = response.iter_lines()
                assert next_line(lines) == ": open"
                stopping = time.monotonic()
                server.handle_exit(signal.SIGTERM, None)
                list(lines)  # the stream ends
            thread.join(timeout=10)
            assert not thread.is_alive() and time.monotonic() - stopping < 10
    finally:
        AppStatus.should_exit = False  # process-wide in sse-starlette: later servers stream on
        server.should_exit = True
        thread.join(timeout=10)
