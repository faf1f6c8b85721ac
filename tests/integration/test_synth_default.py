"""The embedded default through the CLI: 361 patients, two centres, about a quarter positive."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sonorisk.cli import main


@pytest.mark.slow
def test_default_synth_cohort(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "default.parquet"
    assert main(["synth", "--out", str(out), "--preview", "--preview-dir", str(tmp_path / "preview")]) == 0
    printed = capsys.readouterr().out
    table = pq.read_table(out, columns=["center", "brain_metastasis"])
    assert table.num_rows == 361
    centres = table.column("center").to_pylist()
    assert (centres.count("A"), centres.count("B")) == (250, 111)
    prevalence = sum(table.column("brain_metastasis").to_pylist()) / 361
    assert 0.20 <= prevalence <= 0.30
    oracle = float(re.search(r"oracle AUC (\d\.\d+)", printed).group(1))
    assert 0.75 < oracle < 0.97
    assert sorted(p.name for p in (tmp_path / "preview").iterdir()) == ["preview_centre_A.png", "preview_centre_B.png"]
