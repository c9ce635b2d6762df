"""The hotline server as a child process on loopback, for benchmarks and process-level tests.

One way to run ``uvicorn channels.app:create_app --factory``: on a free loopback port, until
GET /readyz answers 200, stopped when the block ends. A server that dies or never gets ready
fails with the tail of its log, so a broken start says why instead of timing out silently.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

LOOPBACK = "127.0.0.1"
LOG_TAIL = 3000  # characters of the server's log shown when it fails


class ServerError(RuntimeError):
    """The server exited, reported a failed start, or was not ready in time."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


@contextmanager
def hotline_server(
    env: Mapping[str, str],
    *,
    port: int | None = None,
    log: Path | None = None,
    timeout: float = 600,
) -> Iterator[str]:
    """Run the app in a child process for as long as the block lasts; yield its base URL.

    ``env`` is laid over this process's environment (with ``HF_HUB_OFFLINE=1`` beneath it:
    nothing is fetched). Pass ``port`` when ``env`` must name the URL (``HOTLINE_PUBLIC_URL``).
    The server's output is appended to ``log``, a scratch file when none is given; its tail
    is printed to stderr when the block fails.
    """
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    with ExitStack() as stack:
        if log is None:
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="hotline-server-"))
            log = Path(scratch) / "server.log"
        command = [
            *(sys.executable, "-m", "uvicorn", "channels.app:create_app", "--factory"),
            *("--host", LOOPBACK, "--port", str(port), "--log-level", "warning"),
            "--no-proxy-headers",  # as channels.app.SERVER_OPTIONS: HOTLINE_TRUSTED_PROXIES decides
        ]
        full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **env}
        with log.open("ab") as out:
            process = subprocess.Popen(command, env=full_env, stdout=out, stderr=subprocess.STDOUT)
        stack.callback(stop_process, process)
        _wait_ready(url, process, log, timeout)
        try:
            yield url
        except Exception:  # what the server said may explain it; a scratch log is about to go
            print(f"server log ({log}), last part:\n{_tail(log)}", file=sys.stderr)
            raise


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"server exited with {process.returncode}:\n{_tail(log)}")
        try:
            response = httpx.get(f"{url}/readyz", timeout=5)
        except httpx.TransportError:
            response = None
        if response is not None:
            if response.status_code == 200:
                return
            detail = _detail(response)
            if not str(detail).startswith("starting up"):
                raise ServerError(f"server failed to start ({detail}):\n{_tail(log)}")
        time.sleep(0.25)
    raise ServerError(f"server not ready within {timeout:.0f} s:\n{_tail(log)}")


def _detail(response: httpx.Response) -> object:
    try:
        return response.json().get("detail")
    except (ValueError, AttributeError):
        return f"HTTP {response.status_code}"


def _tail(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL:]


def stop_process(process: subprocess.Popen, timeout: float = 30) -> None:
    """Ask a child process to stop (SIGTERM), and kill it if it has not within ``timeout`` s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
