"""Splits: stratified and seeded, persons kept whole, external centres never in development."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sonorisk.cohort.split import EXTERNAL, INTERNAL, TRAINING, UNLABELLED, assign_splits


def _table(n_a: int = 200, n_b: int = 60, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    centre = ["A"] * n_a + ["B"] * n_b
    outcome = (rng.random(n_a + n_b) < 0.25).tolist()
    outcome[5] = None  # an unlabelled development patient
    return pa.table(
        {
            "patient_id": [f"p{i}" for i in range(n_a + n_b)],
            "case_id": [f"person{i // 2}" for i in range(n_a + n_b)],  # two lesions per person
            "cohort_id": ["c"] * (n_a + n_b),
            "center": centre,
            "brain_metastasis": pa.array(outcome, pa.bool_()),
        }
    )


def test_split_roles_and_proportions() -> None:
    table = _table()
    out = assign_splits(table, "brain_metastasis", "A", ["B"], 0.3, seed=7)
    split = np.array(out.column("split").to_pylist())
    centre = np.array(table.column("center").to_pylist())
    assert set(split[centre == "B"]) == {EXTERNAL}
    assert split[5] == UNLABELLED
    dev = (centre == "A") & (split != UNLABELLED)
    assert (split[dev] == INTERNAL).mean() == pytest.approx(0.3, abs=0.05)
    y = np.array([bool(v) for v in table.column("brain_metastasis").to_pylist()])
    prevalence = {s: y[dev & (split == s)].mean() for s in (TRAINING, INTERNAL)}
    assert prevalence[TRAINING] == pytest.approx(prevalence[INTERNAL], abs=0.08)


def test_a_person_is_never_on_both_sides() -> None:
    out = assign_splits(_table(), "brain_metastasis", "A", ["B"], 0.3, seed=3)
    by_person: dict[str, set[str]] = {}
    for case, split in zip(_table().column("case_id").to_pylist(), out.column("split").to_pylist(), strict=True):
        by_person.setdefault(case, set()).add(split)
    assert all(len(s - {UNLABELLED}) <= 1 for s in by_person.values())


def test_seed_fixes_the_split() -> None:
    a = assign_splits(_table(), "brain_metastasis", "A", ["B"], 0.3, seed=1).column("split")
    b = assign_splits(_table(), "brain_metastasis", "A", ["B"], 0.3, seed=1).column("split")
    c = assign_splits(_table(), "brain_metastasis", "A", ["B"], 0.3, seed=2).column("split")
    assert a.equals(b)
    assert not a.equals(c)


def test_missing_outcome_column_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="outcome column 'malignant'"):
        assign_splits(_table(), "malignant", "A", ["B"], 0.3, seed=1)
