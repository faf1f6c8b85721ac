"""Gates: a study whose configuration and data do not fit stops the stage with one line naming the
problem (exit 2), never a traceback and never an empty result carried downstream."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pytest

from sonorisk.cohort.split import assign_splits
from sonorisk.fusion.fit import FusionParams
from sonorisk.gates import run_stage
from sonorisk.params import stage_params


def _rows(centres: list[str], outcome: list[bool | None]) -> pa.Table:
    n = len(centres)
    return pa.table(
        {
            "patient_id": [f"p{i}" for i in range(n)],
            "cohort_id": ["c"] * n,
            "center": centres,
            "malignant": pa.array(outcome, pa.bool_()),
        }
    )


_BALANCED = _rows(["A"] * 20 + ["B"] * 6, [i % 2 == 0 for i in range(26)])


def _one_line(capsys: pytest.CaptureFixture[str], stage: str, main: Callable[[], object]) -> str:
    with pytest.raises(SystemExit) as stopped:
        run_stage(stage, main)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err.strip()


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            lambda: assign_splits(_BALANCED, "malignant", "A", ["C"], 0.3, 1),
            "stage split: error: external centre 'C' has no valid rows (centres with valid rows: A, B)",
        ),
        (
            lambda: assign_splits(_BALANCED, "malignant", "X", ["B"], 0.3, 1),
            "stage split: error: development centre 'X' has no valid rows (centres with valid rows: A, B)",
        ),
        (
            lambda: assign_splits(_BALANCED, "brain_metastasis", "A", ["B"], 0.3, 1),
            "stage split: error: outcome column 'brain_metastasis' is not in the validated cohorts (study.outcome)",
        ),
        (
            lambda: assign_splits(_rows(["A"] * 20, [True] * 20), "malignant", "A", [], 0.3, 1),
            "stage split: error: the training split of centre 'A' has 14 positive of 14 labelled rows: "
            "both outcomes are needed",
        ),
    ],
    ids=["unknown external centre", "unknown development centre", "missing outcome column", "one outcome class"],
)
def test_split_gates_stop_with_one_line(
    call: Callable[[], object], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _one_line(capsys, "split", call) == expected


def test_a_missing_params_section_stops_with_one_line(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("study:\n  outcome: malignant\n")
    line = _one_line(capsys, "fusion", lambda: stage_params("fusion", FusionParams, params))
    assert line == f"stage fusion: error: {params} has no `fusion:` section"


def test_a_configured_person_column_that_does_not_exist_stops_the_split_stage(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow.parquet as pq

    from pipelines.split import main as split_main

    (tmp_path / "data" / "validated").mkdir(parents=True)
    pq.write_table(_BALANCED, tmp_path / "data" / "validated" / "c.parquet")
    (tmp_path / "params.yaml").write_text(
        "study: {outcome: malignant, person_column: MRN, development_centre: A, external_centres: [B]}\n"
        "split: {internal_validation_fraction: 0.3, seed: 1}\n"
    )
    monkeypatch.chdir(tmp_path)
    line = _one_line(capsys, "split", split_main)
    assert (
        line == "stage split: error: c.parquet: no person column 'MRN' (study.person_column; null: one row, one person)"
    )


def test_the_validate_stage_refuses_to_judge_dates_against_the_wall_clock(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipelines.validate import main as validate_main

    (tmp_path / "params.yaml").write_text("validate: {run_date: null}\n")
    monkeypatch.chdir(tmp_path)
    line = _one_line(capsys, "validate", lambda: validate_main("c"))
    assert line.startswith("stage validate: error: validate.run_date is null: ")
    assert "never the day it runs" in line
