"""The contract files agree with each other: GE null rules exactly where fields.yaml says required."""

from __future__ import annotations

from sonorisk.contracts.fields import load_field_contract
from sonorisk.contracts.suites import load_suite_spec


def _not_null_columns(suite: str) -> set[str]:
    return {
        e["kwargs"]["column"]
        for e in load_suite_spec(suite)["expectations"]
        if e["type"] == "expect_column_values_to_not_be_null"
    }


def test_required_fields_have_not_null_expectations_and_optional_ones_none() -> None:
    contract = load_field_contract()
    tabular = {n for n, r in contract.columns.items() if r.type not in ("binary", "list_string")}
    required = {n for n in tabular if contract.columns[n].required}
    declared = _not_null_columns("cohort") | _not_null_columns("clinical")
    assert declared == required


def test_every_expectation_names_a_rule_and_a_reason() -> None:
    for suite in ("cohort", "clinical"):
        for expectation in load_suite_spec(suite)["expectations"]:
            assert expectation["meta"]["rule"]
            assert len(expectation["meta"]["why"]) > 5
