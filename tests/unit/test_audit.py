"""The audit compares outputs by value: re-encoded PNGs and Parquet files are equal by value, numbers
within the stated tolerances are equal, and a real difference is named by column and row."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from sonorisk.audit import compare_snapshot, record
from sonorisk.audit_values import FEATURE_RTOL, SCORE_ATOL, compare_files


def _png(pixels: np.ndarray, level: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=level)
    return buffer.getvalue()


_PIXELS = (np.arange(48 * 40) * 7 % 253).astype(np.uint8).reshape(48, 40)


def test_a_re_encoded_image_is_equal_by_value_and_a_changed_pixel_is_not(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(_png(_PIXELS, 1))
    (tmp_path / "b.png").write_bytes(_png(_PIXELS, 9))
    changed = _PIXELS.copy()
    changed[3, 4] += 1
    (tmp_path / "c.png").write_bytes(_png(changed, 1))
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "b.png").read_bytes()
    assert compare_files(tmp_path / "a.png", tmp_path / "b.png", "reports/x.png").kind == "equal by value"
    assert compare_files(tmp_path / "a.png", tmp_path / "c.png", "reports/x.png").kind == "differs"


def _cohort(level: int, value: float) -> pa.Table:
    return pa.table({"patient_id": ["p1", "p2"], "image_png": [_png(_PIXELS, level)] * 2, "x": [1.0, value]})


def test_parquet_tables_are_compared_column_by_column_with_the_stated_tolerances(tmp_path: Path) -> None:
    pq.write_table(_cohort(1, 0.5), tmp_path / "a.parquet", compression="snappy")
    pq.write_table(_cohort(9, 0.5), tmp_path / "b.parquet", compression="zstd")  # other bytes, same content
    verdict = compare_files(tmp_path / "a.parquet", tmp_path / "b.parquet", "data/cohorts/c.parquet")
    assert verdict.kind == "equal by value"

    # Feature tables: relative tolerance; 1e-12 relative is rounding, 1e-6 is a different number.
    pq.write_table(_cohort(1, 0.5 * (1 + FEATURE_RTOL / 1000)), tmp_path / "near.parquet")
    pq.write_table(_cohort(1, 0.5 * (1 + 1e-6)), tmp_path / "far.parquet")
    feature = "data/features/radiomics.parquet"
    assert compare_files(tmp_path / "a.parquet", tmp_path / "near.parquet", feature).kind == "equal by value"
    far = compare_files(tmp_path / "a.parquet", tmp_path / "far.parquet", feature)
    assert far.kind == "differs" and far.detail.startswith("column x, row 1:")

    # Scores: absolute tolerance.
    pq.write_table(_cohort(1, 0.5 + SCORE_ATOL / 10), tmp_path / "score_near.parquet")
    pq.write_table(_cohort(1, 0.5 + 1e-4), tmp_path / "score_far.parquet")
    score = "data/scores/dl.parquet"
    assert compare_files(tmp_path / "a.parquet", tmp_path / "score_near.parquet", score).kind == "equal by value"
    assert compare_files(tmp_path / "a.parquet", tmp_path / "score_far.parquet", score).detail.startswith("column x")


def test_json_numbers_within_tolerance_and_the_first_difference_named(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"auc": 0.8, "n": 5, "m": {"k": [1.0, 2.0]}}))
    (tmp_path / "b.json").write_text(json.dumps({"auc": 0.8 + 1e-9, "n": 5, "m": {"k": [1.0, 2.0]}}))
    (tmp_path / "c.json").write_text(json.dumps({"auc": 0.8, "n": 5, "m": {"k": [1.0, 2.5]}}))
    assert compare_files(tmp_path / "a.json", tmp_path / "b.json", "reports/m.json").kind == "equal by value"
    assert compare_files(tmp_path / "a.json", tmp_path / "c.json", "reports/m.json").detail.startswith("$.m.k[1]")


def test_record_and_compare_sort_every_output(tmp_path: Path) -> None:
    base = tmp_path / "project"
    (base / "data" / "scores").mkdir(parents=True)
    (base / "reports").mkdir()
    pq.write_table(_cohort(1, 0.5), base / "data" / "scores" / "s.parquet")
    (base / "reports" / "f.png").write_bytes(_png(_PIXELS, 1))
    (base / "reports" / "same.txt").write_text("same")
    record(tmp_path / "snapshot", ("data", "reports"), base)
    pq.write_table(_cohort(1, 0.7), base / "data" / "scores" / "s.parquet")  # really different
    (base / "reports" / "f.png").write_bytes(_png(_PIXELS, 9))  # same pixels, other bytes
    rows = {
        name: (kind, detail)
        for name, kind, detail in compare_snapshot(tmp_path / "snapshot", base, ("data", "reports"))
    }
    assert rows["reports/same.txt"] == ("identical", "")
    assert rows["reports/f.png"][0] == "equal by value"
    assert rows["data/scores/s.parquet"][0] == "differs" and "column x, row 1" in rows["data/scores/s.parquet"][1]
