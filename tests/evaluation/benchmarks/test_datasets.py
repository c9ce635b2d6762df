"""One setting names the public data sets' folder; ../shared/datasets is only the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.benchmarks import clinc150, datasets
from tests.conftest import ROOT


def test_the_folder_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_DATASETS_DIR", str(tmp_path))
    assert datasets.datasets_dir() == tmp_path
    assert datasets.dataset("clinc150", "data_full.json") == tmp_path / "clinc150/data_full.json"


@pytest.mark.parametrize("value", [None, "", "  "])
def test_without_it_the_folder_beside_the_repository(
    value: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is None:
        monkeypatch.delenv("HOTLINE_DATASETS_DIR", raising=False)
    else:
        monkeypatch.setenv("HOTLINE_DATASETS_DIR", value)
    assert datasets.datasets_dir() == ROOT.parent / "shared" / "datasets"


def test_a_missing_data_set_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.argv", ["clinc150", "--data", str(tmp_path / "none.json")])
    with pytest.raises(SystemExit) as exited:
        clinc150.main()
    assert exited.value.code == 2
    assert f"no CLINC150 at {tmp_path / 'none.json'}" in capsys.readouterr().err
