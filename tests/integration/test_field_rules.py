"""Three rules every field of ``data_contracts/cohort/fields.yaml`` obeys, checked per field, so a new
field is covered the day it is added: a float refuses NaN and infinities (``finite``), a required
text field refuses empty and blank values (``not_blank``), and a number has a plausible range whose
reason the suite states (values beyond it are quarantined under that range's rule). Great
Expectations runs for real; rows in = valid + quarantined."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sonorisk.contracts.fields import load_field_contract
from sonorisk.contracts.schema import COHORT_SCHEMA
from sonorisk.contracts.suites import SUITE_NAMES, suite_path
from sonorisk.contracts.validate import validate_cohort

FIELDS = load_field_contract().columns
EXPECTATIONS = [e for name in SUITE_NAMES for e in json.loads(suite_path(name).read_text())["expectations"]]
RANGE_TYPES = ("expect_column_values_to_be_between", "expect_column_values_to_be_in_set")
NUMERIC = [n for n, rule in FIELDS.items() if rule.type in ("int", "float")]
FLOATS = [n for n, rule in FIELDS.items() if rule.type == "float"]
REQUIRED_TEXT = [n for n, rule in FIELDS.items() if rule.type == "string" and rule.required]


def _ranges(column: str) -> list[dict[str, Any]]:
    """The column's unconditional range or value-set expectations."""
    return [
        e
        for e in EXPECTATIONS
        if e["type"] in RANGE_TYPES and e["kwargs"].get("column") == column and "row_condition" not in e["kwargs"]
    ]


def _beyond(column: str) -> list[tuple[str, Any, str]]:
    """(case id, a value outside the column's declared range, the rule that must name it)."""
    cast = int if FIELDS[column].type == "int" else float
    cases = []
    for expectation in _ranges(column):
        kwargs, rule = expectation["kwargs"], expectation["meta"]["rule"]
        if "value_set" in kwargs:
            cases.append((f"{column}_not_in_set", cast(max(kwargs["value_set"]) + 1), rule))
        if isinstance(kwargs.get("max_value"), int | float):
            cases.append((f"{column}_above_{kwargs['max_value']}", cast(kwargs["max_value"] + 1), rule))
        if isinstance(kwargs.get("min_value"), int | float):
            cases.append((f"{column}_below_{kwargs['min_value']}", cast(kwargs["min_value"] - 1), rule))
    return cases


FLOAT_SPECIALS = {"nan": math.nan, "inf": math.inf, "minus_inf": -math.inf}
BLANKS = {"empty": "", "blank": " \t"}
# (id, column, bad value, rule the quarantine reason must name)
CASES: list[tuple[str, str, Any, str]] = [
    *[(f"{c}_{name}", c, value, "finite") for c in FLOATS for name, value in FLOAT_SPECIALS.items()],
    *[(f"{c}_{name}", c, value, "not_blank") for c in REQUIRED_TEXT for name, value in BLANKS.items()],
    *[(case, c, value, rule) for c in NUMERIC for case, value, rule in _beyond(c)],
]


@pytest.mark.parametrize("column", NUMERIC)
def test_every_numeric_field_has_a_plausible_range_with_its_reason(column: str) -> None:
    bounded = [
        e for e in _ranges(column) if "value_set" in e["kwargs"] or {"min_value", "max_value"} <= set(e["kwargs"])
    ]
    assert bounded, f"{column}: no range bounded on both sides in the suites"
    assert all(e["meta"].get("why") for e in bounded), f"{column}: a range without its reason (meta.why)"


@pytest.fixture(scope="module")
def every_case(small_rows: list[dict], tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, pa.Table, int]:
    """One cohort: row i is case i (a copy of a clean clinical row with one field broken), then the
    clean rows; validated once."""
    rows = []
    for index, (_, column, value, _) in enumerate(CASES):
        row = dict(small_rows[0]) | {"patient_id": f"RULE-{index:03d}"}
        rows.append(row | {column: value})
    rows.extend(small_rows[1:])
    tmp = tmp_path_factory.mktemp("field_rules")
    pq.write_table(pa.Table.from_pylist(rows, schema=COHORT_SCHEMA), tmp / "cohort.parquet")
    summary = validate_cohort(
        tmp / "cohort.parquet",
        tmp / "valid.parquet",
        tmp / "held.parquet",
        run_date=dt.date(2026, 11, 27),
        progress=False,
    )
    valid, held = pq.read_table(tmp / "valid.parquet"), pq.read_table(tmp / "held.parquet")
    assert summary.rows_in == len(rows) == valid.num_rows + held.num_rows
    return valid, held, len(small_rows) - 1


@pytest.mark.parametrize(
    ("index", "column", "rule"), [(i, c[1], c[3]) for i, c in enumerate(CASES)], ids=[c[0] for c in CASES]
)
def test_each_broken_field_is_quarantined_under_its_rule(
    every_case: tuple[pa.Table, pa.Table, int], index: int, column: str, rule: str
) -> None:
    valid, held, _ = every_case
    held_rows = held.column("input_row").to_pylist()
    assert index in held_rows and index not in valid.column("input_row").to_pylist()
    reasons = held.column("quarantine_reasons").to_pylist()[held_rows.index(index)]
    assert (column, rule) in {(r["column"], r["rule"]) for r in reasons}, reasons


def test_the_clean_rows_stay_valid(every_case: tuple[pa.Table, pa.Table, int]) -> None:
    valid, held, clean = every_case
    assert sorted(held.column("input_row").to_pylist()) == list(range(len(CASES)))
    assert valid.num_rows == clean


def test_the_cases_cover_every_rule_kind() -> None:
    kinds = {rule for *_, rule in CASES}
    assert {"finite", "not_blank"} <= kinds
    assert {c for _, c, _, r in CASES if r == "finite"} == set(FLOATS)
    assert {c for _, c, _, r in CASES if r == "not_blank"} == set(REQUIRED_TEXT)
    assert {c for _, c, _, r in CASES if r not in ("finite", "not_blank")} == set(NUMERIC)


def test_a_null_optional_float_is_not_a_nan(small_rows: list[dict], tmp_path: Path) -> None:
    # Arrow keeps null and NaN apart (pandas does not): a registry's missing Ki-67 is not a broken one.
    rows = [dict(small_rows[0]) | {"ki67_pct": None}, dict(small_rows[1]) | {"ki67_pct": math.nan}]
    pq.write_table(pa.Table.from_pylist(rows, schema=COHORT_SCHEMA), tmp_path / "c.parquet")
    validate_cohort(tmp_path / "c.parquet", tmp_path / "v.parquet", tmp_path / "h.parquet", progress=False)
    held = pq.read_table(tmp_path / "h.parquet")
    assert held.column("patient_id").to_pylist() == [small_rows[1]["patient_id"]]
