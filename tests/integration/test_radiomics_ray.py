"""Radiomics on Ray (real local cluster) returns exactly what the serial loop returns, at every
batch boundary, with a corrupt case mid-batch reported, not fatal, and every column present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sonorisk.contracts.schema import COHORT_SCHEMA
from sonorisk.radiomics.extract import feature_names
from sonorisk.radiomics.fanout import extract_serial, extract_with_ray
from sonorisk.radiomics.settings import load_settings

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def cohort_with_a_corrupt_case(small_rows: list[dict], tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [dict(r) for r in small_rows]
    rows.insert(4, dict(rows[0]) | {"patient_id": "BROKEN-1", "image_png": rows[0]["image_png"][:100]})
    path = tmp_path_factory.mktemp("ray") / "cohort.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=COHORT_SCHEMA), path)
    return path


@pytest.mark.parametrize(("n_rows", "cases_per_task"), [(1, 1), (10, 4), (10, 3), (7, 10)])
def test_ray_equals_serial_at_batch_boundaries(
    ray_local, cohort_with_a_corrupt_case: Path, n_rows: int, cases_per_task: int
) -> None:
    settings = load_settings()
    ids = pq.read_table(cohort_with_a_corrupt_case, columns=["patient_id"]).column("patient_id").to_pylist()
    wanted = set(ids[:n_rows])
    keep = lambda row: row["patient_id"] in wanted  # noqa: E731
    serial = extract_serial(cohort_with_a_corrupt_case, settings, keep=keep)
    run = extract_with_ray(
        cohort_with_a_corrupt_case, settings, keep=keep, cases_per_task=cases_per_task, progress=False
    )
    assert run.table.num_rows == n_rows
    assert run.table.column("patient_id").to_pylist() == ids[:n_rows]  # input order kept
    assert run.table.equals(serial)
    assert sum(run.nodes.values()) == n_rows


def test_corrupt_case_is_reported_and_keeps_every_column(ray_local, cohort_with_a_corrupt_case: Path) -> None:
    settings = load_settings()
    table = extract_with_ray(cohort_with_a_corrupt_case, settings, cases_per_task=4, progress=False).table
    names = feature_names(settings.params)
    assert table.column_names[-len(names) :] == names
    rows = table.to_pylist()
    broken = next(r for r in rows if r["patient_id"] == "BROKEN-1")
    assert broken["status"] == "error"
    assert "does not decode" in broken["error"]
    assert all(broken[n] is None for n in names)
    good = [r for r in rows if r["patient_id"] != "BROKEN-1"]
    assert all(r["status"] == "ok" for r in good)
    assert all(np.isfinite(r["original_firstorder_Mean"]) for r in good)
    assert {r["settings_sha256"] for r in rows} == {settings.sha256}


def test_settings_give_753_two_dimensional_features() -> None:
    names = feature_names(load_settings().params)
    assert len(names) == 753
    assert {n.split("_")[0] for n in names} == {
        "original",
        "wavelet-LL",
        "wavelet-LH",
        "wavelet-HL",
        "wavelet-HH",
        "log-sigma-0-5-mm-3D",
        "log-sigma-1-0-mm-3D",
        "log-sigma-2-0-mm-3D",
    }
    assert sum(n.startswith("original_shape2D_") for n in names) == 9
