"""QA tools residents' teams run (``qa``) and the project's own benchmarks (``benchmarks``)."""

from pathlib import Path

DATA = Path(__file__).with_name("data")  # labelled questions, scripted residents, held-out sets
