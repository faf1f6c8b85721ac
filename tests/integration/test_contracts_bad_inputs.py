"""Each kind of bad input is quarantined with a reason naming its column and rule; rows in = valid
+ quarantined. Great Expectations runs for real."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from sonorisk.contracts.schema import COHORT_SCHEMA
from sonorisk.contracts.validate import validate_cohort

RUN_DATE = dt.date(2026, 11, 27)


def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format="PNG") if mode else Image.fromarray(array).save(
        buffer, format="PNG"
    )
    return buffer.getvalue()


def _bomb_png() -> bytes:
    """A small file declaring a 9000 x 9000 canvas (1-bit zeros compress to almost nothing)."""
    buffer = io.BytesIO()
    Image.new("1", (9000, 9000)).save(buffer, format="PNG")
    return buffer.getvalue()


def _float_tiff(shape: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).random(shape).astype(np.float32), mode="F").save(buffer, format="TIFF")
    return buffer.getvalue()


def _image_shape(row: dict) -> tuple[int, int]:
    return Image.open(io.BytesIO(row["image_png"])).size[::-1]


Mutation = Callable[[dict], dict]

# (id, mutation of row 0, column the reason must name, rule it must name)
BAD_INPUTS: list[tuple[str, Mutation, str, str]] = [
    (
        "truncated_png",
        lambda r: r | {"image_png": r["image_png"][: len(r["image_png"]) // 2]},
        "image_png",
        "image_decodes",
    ),
    ("not_an_image", lambda r: r | {"image_png": b"GIF? no, just text"}, "image_png", "image_decodes"),
    ("empty_image_bytes", lambda r: r | {"image_png": b""}, "image_png", "image_present"),
    ("null_image", lambda r: r | {"image_png": None}, "image_png", "image_present"),
    ("decompression_bomb", lambda r: r | {"image_png": _bomb_png()}, "image_png", "image_size_limit"),
    (
        "float_image_no_grey_reading",
        lambda r: r | {"image_png": _float_tiff(_image_shape(r))},
        "image_png",
        "image_greyscale",
    ),
    (
        "blank_image",
        lambda r: r | {"image_png": _png(np.full(_image_shape(r), 7, np.uint8))},
        "image_png",
        "image_not_blank",
    ),
    (
        "mask_size_mismatch",
        lambda r: r | {"mask_png": _png(np.full((50, 60), 255, np.uint8) * np.eye(50, 60, dtype=np.uint8))},
        "mask_png",
        "mask_same_size_as_image",
    ),
    ("empty_mask", lambda r: r | {"mask_png": _png(np.zeros(_image_shape(r), np.uint8))}, "mask_png", "mask_not_empty"),
    (
        "whole_image_mask",
        lambda r: r | {"mask_png": _png(np.full(_image_shape(r), 255, np.uint8))},
        "mask_png",
        "mask_not_whole_image",
    ),
    (
        "three_pixel_mask",
        lambda r: (
            r
            | {
                "mask_png": _png(
                    np.pad(np.full((1, 3), 255, np.uint8), ((5, _image_shape(r)[0] - 6), (5, _image_shape(r)[1] - 8)))
                )
            }
        ),
        "mask_png",
        "mask_min_lesion_pixels",
    ),
    ("truncated_mask", lambda r: r | {"mask_png": r["mask_png"][:40]}, "mask_png", "mask_decodes"),
    ("age_250", lambda r: r | {"age": 250}, "age", "age_range"),
    ("age_null", lambda r: r | {"age": None}, "age", "required"),
    ("her2_maybe", lambda r: r | {"her2_status": "maybe"}, "her2_status", "allowed_values"),
    (
        "triple_negative_but_er_positive",
        lambda r: (
            r
            | {
                "molecular_subtype": "triple_negative",
                "er_status": "positive",
                "pr_status": "negative",
                "her2_status": "negative",
            }
        ),
        "er_status",
        "subtype_agrees_with_receptors",
    ),
    (
        "luminal_a_but_her2_positive",
        lambda r: r | {"molecular_subtype": "luminal_a", "er_status": "positive", "her2_status": "positive"},
        "her2_status",
        "subtype_agrees_with_receptors",
    ),
    (
        "t1_but_35_mm",
        lambda r: r | {"t_stage": "T1", "tumor_size_mm": 35.0},
        "tumor_size_mm",
        "t_stage_agrees_with_size",
    ),
    ("t_stage_T5", lambda r: r | {"t_stage": "T5"}, "t_stage", "allowed_values"),
    ("grade_4", lambda r: r | {"histologic_grade": 4}, "histologic_grade", "allowed_values"),
    ("ki67_150", lambda r: r | {"ki67_pct": 150.0}, "ki67_pct", "ki67_range"),
    ("size_zero", lambda r: r | {"tumor_size_mm": 0.0}, "tumor_size_mm", "size_range"),
    ("menopausal_peri", lambda r: r | {"menopausal_status": "peri"}, "menopausal_status", "allowed_values"),
    ("future_surgery_date", lambda r: r | {"surgery_date": dt.date(2027, 3, 1)}, "surgery_date", "not_in_future"),
    ("negative_spacing", lambda r: r | {"pixel_spacing_mm": -0.1}, "pixel_spacing_mm", "spacing_positive"),
    ("zero_spacing", lambda r: r | {"pixel_spacing_mm": 0.0}, "pixel_spacing_mm", "spacing_positive"),
    ("null_spacing", lambda r: r | {"pixel_spacing_mm": None}, "pixel_spacing_mm", "required"),
    ("patient_id_with_slash", lambda r: r | {"patient_id": "../etc/passwd"}, "patient_id", "patient_id_format"),
    ("null_centre", lambda r: r | {"center": None}, "center", "required"),
    ("negative_followup", lambda r: r | {"followup_months": -3.0}, "followup_months", "followup_range"),
]


def _write_rows(rows: list[dict], path: Path) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=COHORT_SCHEMA), path)
    return path


def _validate(rows: list[dict], tmp: Path) -> tuple[pa.Table, pa.Table, dict]:
    cohort = _write_rows(rows, tmp / "cohort.parquet")
    summary = validate_cohort(cohort, tmp / "valid.parquet", tmp / "held.parquet", run_date=RUN_DATE, progress=False)
    valid, held = pq.read_table(tmp / "valid.parquet"), pq.read_table(tmp / "held.parquet")
    assert summary.rows_in == len(rows) == valid.num_rows + held.num_rows
    return valid, held, summary.report


def test_the_clean_cohort_is_all_valid(small_rows: list[dict], tmp_path: Path) -> None:
    valid, held, _ = _validate(small_rows, tmp_path)
    assert (valid.num_rows, held.num_rows) == (len(small_rows), 0)


@pytest.fixture(scope="module")
def every_bad_input(
    small_rows: list[dict], tmp_path_factory: pytest.TempPathFactory
) -> tuple[pa.Table, pa.Table, dict]:
    """One cohort holding every bad input of ``BAD_INPUTS`` (row i is case i, a mutated copy of row 0
    with an id of its own unless the case is about the id) followed by the clean rows, validated once:
    one Great Expectations run instead of one per case, and a check that rows do not taint each other."""
    bad = []
    for index, (_, mutate, column, _) in enumerate(BAD_INPUTS):
        row = dict(small_rows[0]) | {"patient_id": f"BAD-{index:03d}"}
        bad.append(mutate(row) if column != "patient_id" else mutate(dict(small_rows[0])))
    return _validate([*bad, *small_rows[1:]], tmp_path_factory.mktemp("bad_inputs"))


@pytest.mark.parametrize(
    ("index", "column", "rule"), [(i, c[2], c[3]) for i, c in enumerate(BAD_INPUTS)], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_is_quarantined_with_its_column_and_rule(
    every_bad_input: tuple[pa.Table, pa.Table, dict], index: int, column: str, rule: str
) -> None:
    valid, held, report = every_bad_input
    rows = held.column("input_row").to_pylist()
    assert index in rows and index not in valid.column("input_row").to_pylist()
    reasons = held.column("quarantine_reasons").to_pylist()[rows.index(index)]
    assert (column, rule) in {(r["column"], r["rule"]) for r in reasons}, reasons
    # The summary counts every held row naming the rule (another case may trip it too: size 0 mm
    # also disagrees with its T stage).
    naming = [
        any((r["column"], r["rule"]) == (column, rule) for r in rs)
        for rs in held.column("quarantine_reasons").to_pylist()
    ]
    assert report["reasons_by_rule"][f"{column}: {rule}"] == sum(naming) >= 1


def test_only_the_bad_inputs_are_held(every_bad_input: tuple[pa.Table, pa.Table, dict], small_rows: list[dict]) -> None:
    valid, held, _ = every_bad_input
    assert sorted(held.column("input_row").to_pylist()) == list(range(len(BAD_INPUTS)))
    assert valid.num_rows == len(small_rows) - 1


def test_duplicate_patient_id_holds_every_copy(small_rows: list[dict], tmp_path: Path) -> None:
    rows = [dict(r) for r in small_rows]
    rows[3]["patient_id"] = rows[1]["patient_id"]
    _, held, _ = _validate(rows, tmp_path)
    assert sorted(held.column("input_row").to_pylist()) == [1, 3]
    for reasons in held.column("quarantine_reasons").to_pylist():
        assert {"column": "patient_id", "rule": "patient_id_unique"}.items() <= reasons[0].items()


def test_every_reason_of_a_row_is_kept(small_rows: list[dict], tmp_path: Path) -> None:
    rows = [dict(small_rows[0]) | {"age": 250, "her2_status": "maybe", "pixel_spacing_mm": -1.0}, *small_rows[1:]]
    _, held, _ = _validate(rows, tmp_path)
    found = {(r["column"], r["rule"]) for r in held.column("quarantine_reasons").to_pylist()[0]}
    assert {("age", "age_range"), ("her2_status", "allowed_values"), ("pixel_spacing_mm", "spacing_positive")} <= found


def test_missing_optional_field_is_recorded_not_quarantined(small_rows: list[dict], tmp_path: Path) -> None:
    rows = [dict(small_rows[0]) | {"ki67_pct": None, "lvi": None}, *small_rows[1:]]
    valid, held, report = _validate(rows, tmp_path)
    assert held.num_rows == 0
    notes = valid.column("validation_notes").to_pylist()[0]
    assert "ki67_pct: null (optional field)" in notes and "lvi: null (optional field)" in notes
    assert report["notes"]["ki67_pct: null (optional field)"] == 1


def test_rgb_image_is_accepted_and_the_conversion_recorded(small_rows: list[dict], tmp_path: Path) -> None:
    grey = np.asarray(Image.open(io.BytesIO(small_rows[0]["image_png"])))
    rows = [dict(small_rows[0]) | {"image_png": _png(np.stack([grey] * 3, axis=-1))}, *small_rows[1:]]
    valid, held, _ = _validate(rows, tmp_path)
    assert held.num_rows == 0
    assert any("RGB -> greyscale" in note for note in valid.column("validation_notes").to_pylist()[0])


def test_bad_second_reader_mask_is_dropped_not_quarantined(small_rows: list[dict], tmp_path: Path) -> None:
    rows = [dict(small_rows[0]) | {"mask_reader2_png": _png(np.zeros((10, 10), np.uint8))}, *small_rows[1:]]
    valid, held, _ = _validate(rows, tmp_path)
    assert held.num_rows == 0
    assert valid.column("mask_reader2_png").to_pylist()[0] is None
    assert any("mask_reader2_png dropped" in n for n in valid.column("validation_notes").to_pylist()[0])


def test_one_row_cohort(small_rows: list[dict], tmp_path: Path) -> None:
    valid, held, _ = _validate(small_rows[:1], tmp_path)
    assert (valid.num_rows, held.num_rows) == (1, 0)
