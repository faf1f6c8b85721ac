"""Fuzzing what a night delivers (hypothesis): image and mask bytes, IDs and clinical values. Every
input ends as a valid row or a quarantine row with its reason, never a traceback.

Bounded here (``FUZZ_EXAMPLES``, default 2,000 per target; the contracts target draws that many rows,
in cohorts of 50, since one validation runs the Great Expectations suites once per cohort); `make
fuzz` runs the same targets with 20,000 (docs/performance.md quotes a run)."""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sonorisk.cohort.ids import broken_ids, id_rule, map_ids
from sonorisk.contracts.image_checks import check_row_images, load_image_limits
from sonorisk.contracts.schema import COHORT_SCHEMA
from sonorisk.contracts.validate import validate_cohort
from sonorisk.imaging.codec import encode_png

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2000"))
COHORT_ROWS = 50
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run: a CI failure reproduces
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
LIMITS = load_image_limits()
RULE = id_rule()


def _png(width: int, height: int, fill: int, lesion: bool) -> bytes:
    import numpy as np

    array = np.full((height, width), fill, dtype=np.uint8)
    if lesion:
        array[height // 4 : height // 2, width // 4 : width // 2] = 255
    else:
        array[::2, ::3] = (fill + 90) % 256
    return encode_png(array)


GOOD_IMAGE = _png(64, 48, 40, lesion=False)
GOOD_MASK = _png(64, 48, 0, lesion=True)


@st.composite
def corrupted(draw: st.DrawFn, good: bytes) -> bytes | None:
    """Bytes a delivery might hold: nothing, noise, a valid PNG with bytes flipped, cut short,
    spliced or padded, or another PNG altogether."""
    kind = draw(st.sampled_from(["none", "noise", "flip", "truncate", "splice", "pad", "other", "good"]))
    if kind == "none":
        return None
    if kind == "noise":
        return draw(st.binary(max_size=512))
    if kind == "other":
        side = draw(st.integers(1, 80))
        return _png(side, draw(st.integers(1, 80)), draw(st.integers(0, 255)), draw(st.booleans()))
    data = bytearray(good)
    if kind == "flip":
        for position in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
            data[position] ^= draw(st.integers(1, 255))
    elif kind == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif kind == "splice":
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(min_size=1, max_size=64))
    elif kind == "pad":
        data += draw(st.binary(min_size=1, max_size=64))
    return bytes(data)


@FUZZ
@given(image=corrupted(GOOD_IMAGE), mask=corrupted(GOOD_MASK), reader2=corrupted(GOOD_MASK))
def test_image_and_mask_bytes_give_a_verdict_never_a_traceback(
    image: bytes | None, mask: bytes | None, reader2: bytes | None
) -> None:
    verdict = check_row_images(image, mask, reader2, LIMITS)
    for reason in verdict.reasons:  # each quarantine reason names the column and a rule
        assert reason.column in ("image_png", "mask_png") and reason.rule and reason.contract == "images"
    if image == GOOD_IMAGE and mask == GOOD_MASK:
        assert verdict.reasons == []


@FUZZ
@given(ids=st.lists(st.text(max_size=80), min_size=1, max_size=6))
def test_any_id_is_kept_or_mapped_onto_the_rule_and_stays_distinct(ids: list[str]) -> None:
    mapped = map_ids(ids, RULE)
    assert set(mapped) == set(ids)
    assert all(RULE.match(m) for m in mapped.values())
    assert len(set(mapped.values())) == len(set(ids))  # two IDs never become one
    assert all(mapped[i] == i for i in ids if i not in broken_ids(ids, RULE))


FINITE_OR_NOT = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=64))
TEXT = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["positive", "negative", "T1", "N0", "luminal_a"]))
CLINICAL = {
    "age": st.one_of(st.none(), st.integers(-(2**40), 2**40)),
    "menopausal_status": TEXT,
    "tumor_size_mm": FINITE_OR_NOT,
    "t_stage": TEXT,
    "n_stage": TEXT,
    "histologic_grade": st.one_of(st.none(), st.integers(-5, 9)),
    "er_status": TEXT,
    "pr_status": TEXT,
    "her2_status": TEXT,
    "ki67_pct": FINITE_OR_NOT,
    "molecular_subtype": TEXT,
    "lvi": st.one_of(st.none(), st.booleans()),
    "pixel_spacing_mm": FINITE_OR_NOT,
    "followup_months": FINITE_OR_NOT,
    "surgery_date": st.one_of(st.none(), st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))),
    "patient_id": st.text(min_size=0, max_size=70),
    "center": TEXT,
}


@pytest.mark.slow
@settings(FUZZ, max_examples=max(1, math.ceil(EXAMPLES / COHORT_ROWS)))
@given(rows=st.lists(st.fixed_dictionaries(CLINICAL), min_size=COHORT_ROWS, max_size=COHORT_ROWS))
def test_clinical_values_end_valid_or_quarantined_with_a_reason(
    rows: list[dict], small_rows: list[dict], tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    cohort = [small_rows[i % len(small_rows)] | row | {"cohort_id": "fuzz"} for i, row in enumerate(rows)]
    path = tmp / "c.parquet"
    pq.write_table(pa.Table.from_pylist(cohort, schema=COHORT_SCHEMA), path)
    summary = validate_cohort(path, tmp / "v.parquet", tmp / "q.parquet", run_date=dt.date(2026, 12, 7), progress=False)
    valid = pq.read_table(tmp / "v.parquet").column("input_row").to_pylist()
    held = pq.read_table(tmp / "q.parquet", columns=["input_row", "quarantine_reasons"]).to_pylist()
    assert summary.rows_in == len(rows) == len(valid) + len(held)  # nothing lost
    assert sorted(valid + [h["input_row"] for h in held]) == list(range(len(rows)))  # nothing twice
    assert all(h["quarantine_reasons"] and all(r["rule"] for r in h["quarantine_reasons"]) for h in held)
