"""Clinical fields -> a numeric design matrix, with imputation fitted on training rows only.

Ordinal fields keep their order (T1..T4 -> 1..4, N0..N3 -> 0..3, grade 1..3); binary fields are 0/1;
the subtype is one-hot (luminal A as reference). A missing optional field (Ki-67, LVI, menopausal
status, or any field in a scoring cohort) is imputed with the training median (numeric) or mode
(binary), and the encoder records those values in its JSON so scoring uses exactly them.

Example:
    >>> rows = [{"age": 40, "ki67_pct": None, "molecular_subtype": "triple_negative", "lvi": True},
    ...         {"age": 60, "ki67_pct": 20.0, "molecular_subtype": "luminal_a", "lvi": None}]
    >>> encoder = ClinicalEncoder.fit(rows)
    >>> x = encoder.transform(rows)
    >>> x[0, encoder.columns.index("ki67_pct")], x[1, encoder.columns.index("lvi")]
    (np.float64(20.0), np.float64(1.0))
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_ORDINAL = {
    "t_stage": {"T1": 1.0, "T2": 2.0, "T3": 3.0, "T4": 4.0},
    "n_stage": {"N0": 0.0, "N1": 1.0, "N2": 2.0, "N3": 3.0},
}
_BINARY = {
    "menopausal_status": "post",
    "er_status": "positive",
    "pr_status": "positive",
    "her2_status": "positive",
    "lvi": True,
}
_NUMERIC = ("age", "tumor_size_mm", "histologic_grade", "ki67_pct")
_SUBTYPES = ("luminal_b", "her2_enriched", "triple_negative")  # luminal_a is the reference

COLUMNS = [
    *_NUMERIC,
    *_ORDINAL,
    *_BINARY,
    *(f"subtype_{s}" for s in _SUBTYPES),
]


def _raw(row: Mapping[str, Any], column: str) -> float:
    """One field as a number, NaN when missing or unreadable."""
    if column.startswith("subtype_"):
        subtype = row.get("molecular_subtype")
        return float("nan") if subtype is None else float(subtype == column.removeprefix("subtype_"))
    value = row.get(column)
    if value is None:
        return float("nan")
    if column in _ORDINAL:
        return _ORDINAL[column].get(str(value), float("nan"))
    if column in _BINARY:
        return float(value == _BINARY[column])
    return float(value)


def source_fields(columns: list[str]) -> list[str]:
    """The cohort fields encoded columns are read from (the subtype columns from one field)."""
    return list(dict.fromkeys("molecular_subtype" if c.startswith("subtype_") else c for c in columns))


@dataclass(frozen=True)
class ClinicalEncoder:
    """Column order and the training fill values for missing entries."""

    columns: list[str]
    fill: dict[str, float]

    @classmethod
    def fit(cls, rows: Sequence[Mapping[str, Any]]) -> ClinicalEncoder:
        raw = np.array([[_raw(r, c) for c in COLUMNS] for r in rows], dtype=np.float64)
        fill = {}
        for j, column in enumerate(COLUMNS):
            observed = raw[:, j][~np.isnan(raw[:, j])]
            if observed.size == 0:
                fill[column] = 0.0
            elif column in _BINARY or column.startswith("subtype_"):
                fill[column] = float(observed.mean() >= 0.5)
            else:
                fill[column] = float(np.median(observed))
        return cls(columns=list(COLUMNS), fill=fill)

    def transform(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        x = np.array([[_raw(r, c) for c in self.columns] for r in rows], dtype=np.float64).reshape(
            -1, len(self.columns)
        )
        for j, column in enumerate(self.columns):
            x[np.isnan(x[:, j]), j] = self.fill[column]
        return x

    def to_json(self) -> str:
        return json.dumps({"columns": self.columns, "fill": self.fill}, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ClinicalEncoder:
        raw = json.loads(text)
        return cls(columns=list(raw["columns"]), fill={k: float(v) for k, v in raw["fill"].items()})
