"""Export the packaged sentence-transformers model to ONNX, checked against PyTorch's output.

Run as ``python -m knowledge.onnx_export MODEL_DIR TARGET`` by the embedder, in a child process:
the serving process never imports PyTorch.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.embedder import FEATURE_LAYERS, MAX_SEQ_LENGTH, Embedder

PROBE_TEXTS = ("yes", "there is a pothole on Elm Street that burst my tyre", "bin day?")
EXPORT_TOLERANCE = 1e-4


def _check_pipeline(model_dir: str) -> None:
    """The export folds in mean pooling and normalisation: refuse a model built otherwise."""
    modules = json.loads((Path(model_dir) / "modules.json").read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    pooling = json.loads((Path(model_dir) / "1_Pooling" / "config.json").read_text())
    if kinds != ["Transformer", "Pooling", "Normalize"] or not pooling["pooling_mode_mean_tokens"]:
        raise ValueError(f"{model_dir}: expected Transformer, mean Pooling, Normalize; got {kinds}")
    layers = json.loads((Path(model_dir) / "config.json").read_text())["num_hidden_layers"]
    if layers <= max(FEATURE_LAYERS):
        raise ValueError(f"{model_dir}: {layers} layers, the features need {FEATURE_LAYERS}")


def _expected(model: Any, texts: list[str]) -> np.ndarray:
    """The features computed the plain way: sentence-transformers' own sentence vectors and
    transformers' own hidden states, mean-pooled over each text on its own (no padding)."""
    import torch

    sentence = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    rows = []
    for text, vector in zip(texts, sentence, strict=True):
        tokens = model.tokenizer(
            [text], truncation=True, max_length=MAX_SEQ_LENGTH, return_tensors="pt"
        )
        with torch.inference_mode():
            hidden = model[0].auto_model(**tokens, output_hidden_states=True).hidden_states
        layers = [
            torch.nn.functional.normalize(hidden[k][0].mean(0), dim=0) for k in FEATURE_LAYERS
        ]
        rows.append(np.concatenate([vector, *[layer.numpy() for layer in layers]]))
    return np.stack(rows)


def _export(model_dir: str, target: Path) -> None:
    """Trace the model, write the graph, and check it against the model's own vectors."""
    import torch  # here, after main() has made the hub unreachable
    from sentence_transformers import SentenceTransformer

    _check_pipeline(model_dir)
    model = SentenceTransformer(model_dir, device="cpu")
    model.max_seq_length = MAX_SEQ_LENGTH
    model.eval()
    expected = _expected(model, list(PROBE_TEXTS))
    encoder = model[0].auto_model

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
                output_hidden_states=True,
            ).hidden_states
            weights = attention_mask.unsqueeze(-1).to(hidden[-1].dtype)
            count = weights.sum(1).clamp(min=1e-9)
            means = [(hidden[k] * weights).sum(1) / count for k in (-1, *FEATURE_LAYERS)]
            return torch.cat([torch.nn.functional.normalize(m, dim=1) for m in means], dim=1)

    sample = model.tokenizer(["hello there, how are you"], return_tensors="pt")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        staged = Path(tmp) / target.name
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pooled().eval(),
                (sample["input_ids"], sample["attention_mask"]),
                str(staged),
                input_names=["input_ids", "attention_mask"],
                output_names=["features"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "features": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        got = Embedder(model_dir, staged).features(PROBE_TEXTS)
        error = float(np.abs(got - expected).max())
        if error > EXPORT_TOLERANCE:
            raise RuntimeError(f"ONNX export of {model_dir} differs from PyTorch by {error:.2e}")
        os.replace(staged, target)  # atomic: concurrent processes see no half-written file


def main() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"  # before sentence_transformers reads it: never the hub
    model_dir, target = sys.argv[1:3]
    _export(model_dir, Path(target))


if __name__ == "__main__":
    main()
