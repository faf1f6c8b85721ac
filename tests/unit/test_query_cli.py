"""`sonorisk query` as an analyst uses it: the whole result to stdout as CSV, JSON lines or Parquet,
and any failing query (bad SQL, an unknown column, a failing cast) as one line with exit 2."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from sonorisk.risk.partition import write_partition

SQL = "SELECT patient_id, risk FROM risk ORDER BY patient_id"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("risk")
    write_partition(pa.table({"patient_id": ["p1", "p2"], "cohort_id": ["c", "c"], "risk": [0.1, 0.7]}), root, "c")
    return root


def _query(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "sonorisk.cli", "query", *args, "--risk", str(root)], capture_output=True
    )


def test_csv_json_and_parquet_go_to_stdout(root: Path) -> None:
    expected = {"patient_id": ["p1", "p2"], "risk": [0.1, 0.7]}
    csv = _query(root, SQL, "--format", "csv")
    assert csv.returncode == 0 and pl.read_csv(io.BytesIO(csv.stdout)).to_dict(as_series=False) == expected
    lines = _query(root, SQL, "--format", "json").stdout.decode().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"patient_id": "p1", "risk": 0.1},
        {"patient_id": "p2", "risk": 0.7},
    ]
    parquet = _query(root, SQL, "--format", "parquet")
    assert pl.read_parquet(io.BytesIO(parquet.stdout)).to_dict(as_series=False) == expected


@pytest.mark.parametrize(
    "sql",
    ["SELEC patient_id FROM risk", "SELECT no_such_column FROM risk", "SELECT CAST(patient_id AS INTEGER) FROM risk"],
    ids=["syntax", "unknown column", "failing cast"],
)
def test_a_failing_query_is_one_line_with_exit_2(root: Path, sql: str) -> None:
    done = _query(root, sql)
    lines = done.stderr.decode().strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("sonorisk query: error: query failed:"), (
        lines
    )
