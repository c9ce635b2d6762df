"""The benchmark server: ready before the block, gone after it, and a failed start says why."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from bot.runtime import Runtime
from evaluation.benchmarks.server import ServerError, hotline_server


def test_serves_inside_the_block_and_stops_after_a_failure(
    runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"  # the trained model is reused; the database is new
    shutil.copytree(
        runtime.settings.data_dir, data_dir, ignore=shutil.ignore_patterns("*.db*", "secret_key")
    )
    log = tmp_path / "server.log"
    env = {"HOTLINE_DATA_DIR": str(data_dir)}
    with pytest.raises(LookupError), hotline_server(env, log=log, timeout=180) as url:
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/readyz", timeout=10).json()["status"] == "ready"
        raise LookupError("the benchmark broke")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/healthz", timeout=2)
    assert f"server log ({log})" in capsys.readouterr().err


def test_a_server_that_exits_fails_with_its_log(tmp_path: Path) -> None:
    env = {"HOTLINE_DATA_DIR": str(tmp_path), "HOTLINE_VOICE_MODE": "no-such-mode"}
    refused = pytest.raises(ServerError, match=r"(?s)exited with \d+.*HOTLINE_VOICE_MODE")
    with refused, hotline_server(env, timeout=60):
        pytest.fail("the block must not run")


def test_a_server_whose_start_fails_is_not_waited_for(tmp_path: Path) -> None:
    env = {
        "HOTLINE_DATA_DIR": str(tmp_path),
        "HOTLINE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
    }
    refused = pytest.raises(ServerError, match=r"(?s)failed to start.*Connection refused")
    with refused, hotline_server(env, timeout=120):
        pytest.fail("the block must not run")
