"""Baseline characteristics by cohort (the "Table 1" of a clinical paper).

Continuous fields as mean (SD) or median [IQR]; categorical ones as n (%) of patients with the field
recorded; the number missing when any is.

Example:
    >>> import polars as pl
    >>> t = pl.DataFrame({"cohort": ["a", "a", "b"], "age": [40.0, 60.0, 50.0],
    ...                   "er_status": ["positive", None, "negative"], "outcome": [True, False, True]})
    >>> table = baseline_table(t, "cohort", ["a", "b"])
    >>> table["Age, years: mean (SD)"]["a"], table["ER positive: n (%)"]["a"], table["Outcome: n (%)"]["b"]
    ('50.0 (14.1)', '1 (100.0 %); 1 missing', '1 (100.0 %)')
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

_CONTINUOUS = [
    ("age", "Age, years: mean (SD)", "mean"),
    ("tumor_size_mm", "Tumour size, mm: median [IQR]", "median"),
    ("ki67_pct", "Ki-67, %: median [IQR]", "median"),
]
_CATEGORICAL = [
    ("menopausal_status", "Postmenopausal: n (%)", "post"),
    ("er_status", "ER positive: n (%)", "positive"),
    ("pr_status", "PR positive: n (%)", "positive"),
    ("her2_status", "HER2 positive: n (%)", "positive"),
    ("lvi", "Lymphovascular invasion: n (%)", True),
]
_MULTI = [
    ("t_stage", "T stage"),
    ("n_stage", "N stage"),
    ("histologic_grade", "Histologic grade"),
    ("molecular_subtype", "Molecular subtype"),
]


def _num(value: object) -> float:
    return float(value)  # type: ignore[arg-type]  # polars types its aggregates loosely


def _count(series: pl.Series, value: object) -> str:
    observed = series.drop_nulls()
    missing = series.len() - observed.len()
    if observed.len() == 0:
        return "-"
    n = int((observed == value).sum())
    text = f"{n} ({100 * n / observed.len():.1f} %)"
    return text + (f"; {missing} missing" if missing else "")


def baseline_table(
    table: pl.DataFrame, group: str, cohorts: Sequence[str], outcome_wording: str = "outcome"
) -> dict[str, dict[str, str]]:
    """{characteristic: {cohort: text}} for the fields ``table`` has: images, persons (when a
    ``person`` column is there), the outcome (``outcome``, named ``outcome_wording``) and the
    clinical fields that are recorded at all."""
    out: dict[str, dict[str, str]] = {"Images: n": {}}
    for cohort in cohorts:
        out["Images: n"][cohort] = str(table.filter(pl.col(group) == cohort).height)
    if "person" in table.columns:
        out["Persons: n"] = {c: str(table.filter(pl.col(group) == c)["person"].n_unique()) for c in cohorts}
    if "outcome" in table.columns:
        out[f"{outcome_wording.capitalize()}: n (%)"] = {
            c: _count(table.filter(pl.col(group) == c)["outcome"], True) for c in cohorts
        }
    for column, label, how in _CONTINUOUS:
        if column not in table.columns or table[column].null_count() == table.height:
            continue
        out[label] = {}
        for cohort in cohorts:
            s = table.filter(pl.col(group) == cohort)[column].cast(pl.Float64).drop_nulls()
            if s.len() == 0:
                out[label][cohort] = "-"
            elif how == "mean":
                sd = s.std()
                out[label][cohort] = f"{_num(s.mean()):.1f} ({'-' if sd is None else f'{_num(sd):.1f}'})"
            else:
                low, high = _num(s.quantile(0.25, "linear")), _num(s.quantile(0.75, "linear"))
                out[label][cohort] = f"{_num(s.median()):.1f} [{low:.1f}-{high:.1f}]"
    for column, label, value in _CATEGORICAL:
        if column in table.columns and table[column].null_count() < table.height:
            out[label] = {c: _count(table.filter(pl.col(group) == c)[column], value) for c in cohorts}
    for column, label in _MULTI:
        if column not in table.columns:
            continue
        for level in sorted(str(v) for v in table[column].drop_nulls().unique()):
            out[f"{label} {level}: n (%)"] = {
                c: _count(table.filter(pl.col(group) == c)[column].cast(pl.String), level) for c in cohorts
            }
    return out
