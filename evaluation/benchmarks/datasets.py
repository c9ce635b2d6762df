"""Where the benchmarks and their tests find the public data sets: one folder, one setting.

``HOTLINE_DATASETS_DIR`` names the folder; without it, ``../shared/datasets`` beside the
repository. Each data set is a sub-folder with its own licence (docs/benchmarks.md says where
each comes from). They are read in place, never copied into the project, and a benchmark or
test whose data set is missing says so or skips.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "HOTLINE_DATASETS_DIR"
DEFAULT = Path(__file__).resolve().parents[3] / "shared" / "datasets"


def datasets_dir() -> Path:
    """The data sets' folder, from HOTLINE_DATASETS_DIR (blank counts as unset)."""
    configured = os.environ.get(ENV, "").strip()
    return Path(configured).expanduser() if configured else DEFAULT


def dataset(*parts: str) -> Path:
    """A path inside the data sets' folder, e.g. ``dataset("clinc150", "data_full.json")``."""
    return datasets_dir().joinpath(*parts)
