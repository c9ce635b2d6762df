"""Keyed hashes of senders and phones: we recognise a resident without storing who they are."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path


def load_or_create_secret(configured: str | None, data_dir: Path) -> bytes:
    """The hashing key: from the environment, else a random one kept in the data dir."""
    if configured:
        return configured.encode()
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip().encode()


class Hasher:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, value: str) -> str:
        return hmac.new(self._key, value.strip().encode(), hashlib.sha256).hexdigest()
