"""Property: for any mix of good and bad rows, rows in = valid + quarantined, every bad row is
held, every good row passes, and no row is lost or duplicated."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sonorisk.contracts.schema import COHORT_SCHEMA
from sonorisk.contracts.validate import validate_cohort

MUTATIONS = {
    "none": lambda r: r,
    "age": lambda r: r | {"age": 250},
    "her2": lambda r: r | {"her2_status": "maybe"},
    "spacing": lambda r: r | {"pixel_spacing_mm": -1.0},
    "png": lambda r: r | {"image_png": b"\x89PNG broken"},
    "future": lambda r: r | {"surgery_date": dt.date(2030, 1, 1)},
    "ki67_missing": lambda r: r | {"ki67_pct": None},  # optional: stays valid
}
STAYS_VALID = {"none", "ki67_missing"}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(choice=st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=9))
def test_rows_in_equal_valid_plus_quarantined(small_rows: list[dict], tmp_path_factory, choice: list[str]) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    rows = [MUTATIONS[name](dict(small_rows[i % len(small_rows)])) for i, name in enumerate(choice)]
    for i, row in enumerate(rows):
        row["patient_id"] = f"P-{i}"  # repeats of the base rows must not collide
    path = tmp / "c.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=COHORT_SCHEMA), path)
    summary = validate_cohort(
        path, tmp / "v.parquet", tmp / "q.parquet", run_date=dt.date(2026, 11, 27), progress=False
    )
    valid_rows = pq.read_table(tmp / "v.parquet").column("input_row").to_pylist()
    held_rows = pq.read_table(tmp / "q.parquet").column("input_row").to_pylist()
    assert summary.rows_in == len(rows) == len(valid_rows) + len(held_rows)
    assert sorted(valid_rows + held_rows) == list(range(len(rows)))
    assert set(held_rows) == {i for i, name in enumerate(choice) if name not in STAYS_VALID}
