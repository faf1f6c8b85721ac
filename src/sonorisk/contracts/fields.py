"""The column contract (``data_contracts/cohort/fields.yaml``): presence and types, cohort-wide.

A cohort either meets it, after safe casts to the cohort schema, or is refused as a whole with a
``CohortError`` that names the column and the rule.

Example:
    >>> contract = load_field_contract()
    >>> contract.columns["ki67_pct"].required
    False
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from sonorisk.contracts.reasons import CohortError, Reason, shown_value
from sonorisk.contracts.schema import COHORT_SCHEMA
from sonorisk.paths import COHORT_CONTRACT_DIR

CONTRACT = "fields"
# Logical type -> predicate on the Arrow type found in a file.
_COMPATIBLE = {
    "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    "int": pa.types.is_integer,
    "float": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t),
    "bool": pa.types.is_boolean,
    "date": lambda t: pa.types.is_date(t) or pa.types.is_timestamp(t),
    "binary": lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t),
    "list_string": lambda t: pa.types.is_list(t) or pa.types.is_large_list(t),
}


@dataclass(frozen=True)
class FieldRule:
    name: str
    type: str
    required: bool
    group: str


@dataclass(frozen=True)
class FieldContract:
    version: int
    columns: dict[str, FieldRule]

    def group(self, group: str) -> list[str]:
        return [name for name, rule in self.columns.items() if rule.group == group]


@dataclass(frozen=True)
class ColumnCheck:
    """What the column contract found in a cohort's schema."""

    has_clinical: bool
    added_columns: list[str]
    extra_columns: list[str]


def load_field_contract(path: Path = COHORT_CONTRACT_DIR / "fields.yaml") -> FieldContract:
    raw = yaml.safe_load(path.read_text())
    columns = {name: FieldRule(name=name, **spec) for name, spec in raw["columns"].items()}
    return FieldContract(version=int(raw["version"]), columns=columns)


def value_reasons(row: Mapping[str, Any], contract: FieldContract) -> list[Reason]:
    """The row-level rules fields.yaml implies, which the suites cannot see (pandas turns NaN into a
    null): a float must be finite (``finite``); a required text field must not be empty or blank
    (``not_blank``). A null is not checked here: ``required`` in the suites handles it."""
    reasons = []
    for name, rule in contract.columns.items():
        value = row.get(name)
        if rule.type == "float" and isinstance(value, float) and not math.isfinite(value):
            reasons.append(Reason(name, "finite", shown_value(value), CONTRACT))
        elif rule.type == "string" and rule.required and isinstance(value, str) and not value.strip():
            reasons.append(Reason(name, "not_blank", repr(value), CONTRACT))
    return reasons


def check_columns(schema: pa.Schema, contract: FieldContract, source: str) -> ColumnCheck:
    """Check presence and types of a cohort's columns.

    Clinical columns are required only when the cohort carries clinical fields at all: a cohort
    with none of them is an image-only cohort.

    Raises:
        CohortError: a required column is missing or a column has an incompatible type.
    """
    present = set(schema.names)
    has_clinical = any(name in present for name in contract.group("clinical"))
    for name, rule in contract.columns.items():
        if name in present:
            found = schema.field(name).type
            if not _COMPATIBLE[rule.type](found) and not pa.types.is_null(found):
                raise CohortError(
                    f"{source}: column '{name}' has type {found}, the contract wants {rule.type} (rule column_type)",
                    column=name,
                    rule="column_type",
                )
        elif rule.required and (rule.group != "clinical" or has_clinical):
            raise CohortError(
                f"{source}: required column '{name}' is missing (rule required_column)",
                column=name,
                rule="required_column",
            )
    added = [name for name in COHORT_SCHEMA.names if name not in present]
    extra = [name for name in schema.names if name not in COHORT_SCHEMA.names]
    return ColumnCheck(has_clinical, added, extra)


def conform(table: pa.Table, source: str, columns: list[str] | None = None) -> pa.Table:
    """Cast ``table`` to the cohort schema (or the named subset), absent columns as nulls.

    Call ``check_columns`` first: this only casts.
    """
    targets = [COHORT_SCHEMA.field(name) for name in (columns or COHORT_SCHEMA.names)]
    arrays = [
        _cast(table.column(t.name), t, source) if t.name in table.column_names else pa.nulls(table.num_rows, t.type)
        for t in targets
    ]
    return pa.Table.from_arrays(arrays, schema=pa.schema(targets))


def _cast(column: pa.ChunkedArray, target: pa.Field, source: str) -> pa.ChunkedArray:
    try:
        return column.cast(target.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise CohortError(
            f"{source}: column '{target.name}' cannot be read as {target.type} ({exc}) (rule column_type)",
            column=target.name,
            rule="column_type",
        ) from None
