"""First start and restarts: the trained model is reused, and retrained when it cannot be."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.nlu.engine import NLUEngine
from bot.nlu.entities import EntityExtractor
from bot.nlu.training_data import load_training_data
from bot.runtime import Runtime, prepare_nlu, training_files
from bot.settings import Settings


def _copy_settings(runtime: Runtime, tmp_path: Path) -> Settings:
    data_dir = tmp_path / "data"
    shutil.copytree(runtime.settings.model_dir, data_dir / "models")
    return Settings(_env_file=None, data_dir=data_dir)


def _prepare(settings: Settings, runtime: Runtime) -> NLUEngine:
    data = load_training_data(*training_files(settings))
    extractor = EntityExtractor(data, runtime.city, runtime.catalogue.codes)
    return prepare_nlu(settings, runtime.embedder, extractor, data)


def test_a_saved_model_matching_the_data_is_loaded_not_retrained(
    runtime: Runtime, tmp_path: Path
) -> None:
    settings = _copy_settings(runtime, tmp_path)
    weights = settings.model_dir / "nlu-embedding" / "weights.npz"
    before = weights.stat().st_mtime_ns

    engine = _prepare(settings, runtime)

    assert weights.stat().st_mtime_ns == before
    assert engine.parse("there is a pothole on my street").intent == "report_problem"


def test_a_damaged_model_is_retrained_instead_of_failing_the_start(
    runtime: Runtime, tmp_path: Path
) -> None:
    settings = _copy_settings(runtime, tmp_path)
    (settings.model_dir / "nlu-embedding" / "weights.npz").write_bytes(b"not a numpy file")

    engine = _prepare(settings, runtime)

    assert engine.parse("there is a pothole on my street").intent == "report_problem"
    assert (settings.model_dir / "nlu-embedding" / "fingerprint.json").exists()
