"""Our engine as its own process, for a fair side-by-side with a Rasa server.

    python -m evaluation.benchmarks.rasa_side_by_side.serve_ours train NLU_FILE MODEL_DIR
    python -m evaluation.benchmarks.rasa_side_by_side.serve_ours serve NLU_FILE MODEL_DIR --port P

``train`` is what `hotline train` does (load the Rasa-format file with our loader, train the
default engine, save it); ``serve`` loads the saved model and answers Rasa's
``POST /model/parse`` on 127.0.0.1, so both systems are measured through the same HTTP
client and each server's memory is its own process's.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel


class Parse(BaseModel):
    """Rasa's /model/parse request body."""

    text: str


def _engine(nlu_file: Path) -> tuple[Any, Any]:
    from bot.catalogue import Catalogue
    from bot.city import City
    from bot.nlu import build_engine
    from bot.nlu.entities import EntityExtractor
    from bot.nlu.training_data import load_training_data
    from knowledge.embedder import load_embedder

    data = load_training_data(nlu_file)
    extractor = EntityExtractor(data, City.load(), Catalogue.load().codes)
    return build_engine("embedding", load_embedder(), extractor), data


def train(nlu_file: Path, model_dir: Path) -> None:
    engine, data = _engine(nlu_file)
    report = engine.train(data)
    engine.save(model_dir)
    print(f"trained on {report.n_examples} examples in {report.seconds:.1f} s", flush=True)


def serve(nlu_file: Path, model_dir: Path, port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    engine, _ = _engine(nlu_file)
    engine.load(model_dir)
    app = FastAPI()

    @app.post("/model/parse")
    def parse(body: Parse) -> dict[str, Any]:
        result = engine.parse(body.text)
        return {
            "text": body.text,
            "intent": {"name": result.intent, "confidence": result.confidence},
            "intent_ranking": [{"name": n, "confidence": c} for n, c in result.ranking],
            "entities": [
                {
                    "entity": e.entity,
                    "value": e.value,
                    "start": e.start,
                    "end": e.end,
                    "role": e.role,
                    "group": e.group,
                }
                for e in result.entities
            ],
        }

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["train", "serve"])
    parser.add_argument("nlu_file", type=Path)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--port", type=int, default=5006)
    args = parser.parse_args()
    if args.command == "train":
        train(args.nlu_file, args.model_dir)
    else:
        serve(args.nlu_file, args.model_dir, args.port)


if __name__ == "__main__":
    main()
