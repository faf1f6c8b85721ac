"""Who is used for what: training, internal validation, external validation.

The development centre's labelled patients are split, stratified by outcome and seeded, into
training and internal validation; every other named centre is an external validation cohort and is
never used for fitting, screening, model selection or calibration. Rows of one person (same
person column, ``case_id`` by default) stay in the same split, and the split table names each
row's person so that every later fold keeps persons whole too.

Example:
    >>> import numpy as np
    >>> groups = ["p1", "p2", "p3", "p4", "p5", "p6"]
    >>> y = np.array([1, 0, 1, 0, 0, 0], dtype=bool)
    >>> flags = stratified_group_holdout(groups, y, 0.5, np.random.default_rng(0))
    >>> int(flags.sum()), int(flags[y].sum())
    (3, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sonorisk.gates import StudyError

TRAINING = "training"
INTERNAL = "internal_validation"
EXTERNAL = "external"
UNLABELLED = "unlabelled"
NOT_IN_STUDY = "not_in_study"


@dataclass(frozen=True)
class SplitParams:
    """The ``split:`` section of params.yaml."""

    internal_validation_fraction: float = 0.3
    seed: int = 0


def stratified_group_holdout(
    groups: Sequence[str], outcome: np.ndarray, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Mark about ``fraction`` of the groups (per outcome stratum) as held out.

    A group's stratum is positive when any of its rows is positive.

    Returns:
        A boolean array, True for rows in held-out groups.
    """
    unique = sorted(set(groups))
    positive = dict.fromkeys(unique, False)
    for g, y in zip(groups, outcome, strict=True):
        positive[g] = positive[g] or bool(y)
    held: set[str] = set()
    for stratum in (True, False):
        members = [g for g in unique if positive[g] is stratum]
        order = rng.permutation(len(members))
        n_held = round(fraction * len(members))
        held.update(members[i] for i in order[:n_held])
    return np.array([g in held for g in groups], dtype=bool)


def person_keys(table: pa.Table, person_column: str = "case_id") -> list[str]:
    """One key per row naming the person: ``cohort_id|<person_column>``, the row's ``patient_id``
    where that column is absent or null (one row, one person).

    Example:
        >>> t = pa.table({"cohort_id": ["c", "c", "c"], "patient_id": ["i1", "i2", "i3"],
        ...               "case_id": ["p1", "p1", None]})
        >>> person_keys(t)
        ['c|p1', 'c|p1', 'c|i3']
    """
    persons = (
        table.column(person_column).to_pylist() if person_column in table.column_names else [None] * table.num_rows
    )
    return [
        f"{c}|{k if k not in (None, '') else p}"
        for c, k, p in zip(
            table.column("cohort_id").to_pylist(), persons, table.column("patient_id").to_pylist(), strict=True
        )
    ]


def assign_splits(
    table: pa.Table,
    outcome: str,
    development_centre: str,
    external_centres: Sequence[str],
    internal_fraction: float,
    seed: int,
    person_column: str = "case_id",
) -> pa.Table:
    """One row per input row: identity, person, centre, outcome and its split.

    Args:
        table: validated cohort rows (needs patient_id, cohort_id, center and ``outcome``).
        outcome: the outcome column (``study.outcome``).
        development_centre: the centre models are developed on.
        external_centres: centres kept for external validation.
        internal_fraction: share of the development centre held out for internal validation.
        seed: seeds the split.
        person_column: the column naming the person (rows of one person stay in one split and, in
            every later cross-validation, on one side of each fold).

    Raises:
        StudyError: the outcome column is missing; a configured centre has no valid rows; the
            training or internal-validation split would hold one outcome class only.
    """
    if outcome not in table.column_names:
        raise StudyError(f"outcome column '{outcome}' is not in the validated cohorts (study.outcome)")
    centre = np.array(table.column("center").to_pylist(), dtype=object)
    present = sorted({str(c) for c in centre})
    for name, role in [(development_centre, "development"), *((c, "external") for c in external_centres)]:
        if name not in present:
            raise StudyError(
                f"{role} centre '{name}' has no valid rows (centres with valid rows: {', '.join(present) or 'none'})"
            )
    y_raw = table.column(outcome).to_pylist()
    labelled = np.array([v is not None for v in y_raw])
    y = np.array([bool(v) for v in y_raw])
    groups = person_keys(table, person_column)

    split = np.full(table.num_rows, NOT_IN_STUDY, dtype=object)
    split[np.isin(centre, list(external_centres))] = EXTERNAL
    development = centre == development_centre
    split[development & ~labelled] = UNLABELLED
    dev_rows = np.flatnonzero(development & labelled)
    held = stratified_group_holdout(
        [groups[i] for i in dev_rows], y[dev_rows], internal_fraction, np.random.default_rng(seed)
    )
    split[dev_rows] = np.where(held, INTERNAL, TRAINING)
    for name in (TRAINING, INTERNAL):
        members = y[split == name]
        if members.size == 0 or members.all() or not members.any():
            raise StudyError(
                f"the {name} split of centre '{development_centre}' has {int(members.sum())} positive of "
                f"{members.size} labelled rows: both outcomes are needed"
            )
    return pa.table(
        {
            "patient_id": table.column("patient_id"),
            "cohort_id": table.column("cohort_id"),
            "center": table.column("center"),
            "person": pa.array(groups, pa.string()),
            "outcome": pa.array([v if ok else None for v, ok in zip(y.tolist(), labelled, strict=True)], pa.bool_()),
            "split": pa.array(split.tolist(), pa.string()),
        }
    )
