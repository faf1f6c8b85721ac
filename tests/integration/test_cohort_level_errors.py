"""Problems with the cohort as a whole: a clear one-line error and exit status 5 (data), never a
traceback, and nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sonorisk.cli import main
from sonorisk.contracts.schema import CLINICAL_COLUMNS


def _cohort_without(small_cohort: Path, tmp: Path, column: str) -> Path:
    table = pq.read_table(small_cohort)
    path = tmp / f"without_{column}.parquet"
    pq.write_table(table.drop_columns([column]), path)
    return path


def _cohort_with_string_age(small_cohort: Path, tmp: Path) -> Path:
    table = pq.read_table(small_cohort)
    ages = pa.array([str(a) for a in table.column("age").to_pylist()])
    path = tmp / "string_age.parquet"
    pq.write_table(table.set_column(table.schema.get_field_index("age"), "age", ages), path)
    return path


def _empty_file(small_cohort: Path, tmp: Path) -> Path:
    path = tmp / "empty.parquet"
    path.write_bytes(b"")
    return path


def _zero_rows(small_cohort: Path, tmp: Path) -> Path:
    path = tmp / "zero_rows.parquet"
    pq.write_table(pq.read_table(small_cohort).slice(0, 0), path)
    return path


def _not_parquet(small_cohort: Path, tmp: Path) -> Path:
    path = tmp / "cohort.parquet"
    path.write_text("patient_id,age\nA-1,50\n")
    return path


CASES = [
    ("missing_required_column", lambda c, t: _cohort_without(c, t, "age"), "required column 'age' is missing"),
    ("missing_image_column", lambda c, t: _cohort_without(c, t, "mask_png"), "required column 'mask_png' is missing"),
    ("wrong_column_type", _cohort_with_string_age, "column 'age' has type string"),
    ("empty_file", _empty_file, "the file is empty"),
    ("zero_rows", _zero_rows, "the cohort has no rows"),
    ("not_parquet", _not_parquet, "not a readable Parquet file"),
    ("missing_file", lambda c, t: t / "nope.parquet", "no such file"),
]


@pytest.mark.parametrize(("make", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_cohort_level_problem_exits_5_with_one_line(
    small_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], make, message: str
) -> None:
    cohort = make(small_cohort, tmp_path)
    out = tmp_path / "out"
    code = main(
        [
            "validate",
            str(cohort),
            "--valid",
            str(out / "v.parquet"),
            "--quarantine",
            str(out / "q.parquet"),
            "--summary",
            str(out / "s.json"),
            "--docs",
            str(out / "docs"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 5
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (out / "v.parquet").exists() and not (out / "q.parquet").exists()


def test_image_only_cohort_needs_no_clinical_columns(small_cohort: Path, tmp_path: Path) -> None:
    path = tmp_path / "images_only.parquet"
    pq.write_table(pq.read_table(small_cohort).drop_columns([c for c in CLINICAL_COLUMNS if c != "surgery_date"]), path)
    code = main(
        [
            "validate",
            str(path),
            "--valid",
            str(tmp_path / "v.parquet"),
            "--quarantine",
            str(tmp_path / "q.parquet"),
            "--summary",
            str(tmp_path / "s.json"),
            "--docs",
            str(tmp_path / "d"),
        ]
    )
    assert code == 0
    valid = pq.read_table(tmp_path / "v.parquet")
    assert valid.num_rows == pq.read_metadata(small_cohort).num_rows
    assert valid.column("age").null_count == valid.num_rows  # schema kept stable, values absent


def test_console_script_help_explains_each_command() -> None:
    for command in ("synth", "validate", "ingest"):
        result = subprocess.run(
            [sys.executable, "-m", "sonorisk.cli", command, "--help"], capture_output=True, text=True, check=True
        )
        assert "usage: sonorisk" in result.stdout and len(result.stdout) > 400
