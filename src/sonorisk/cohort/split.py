"""Who is used for what: training, internal validation, external validation.

The development centre's labelled patients are split, stratified by outcome and seeded, into
training and internal validation; every other named centre is an external validation cohort and is
never used for fitting, screening, model selection or calibration. Lesions of one person (same
``case_id``) stay in the same split so no person is on both sides.

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

import numpy as np
import pyarrow as pa

TRAINING = "training"
INTERNAL = "internal_validation"
EXTERNAL = "external"
UNLABELLED = "unlabelled"
NOT_IN_STUDY = "not_in_study"


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


def assign_splits(
    table: pa.Table,
    outcome: str,
    development_centre: str,
    external_centres: Sequence[str],
    internal_fraction: float,
    seed: int,
) -> pa.Table:
    """One row per input row: identity, centre, outcome and its split.

    Args:
        table: validated cohort rows (needs patient_id, cohort_id, center, case_id, ``outcome``).
        outcome: the outcome column (``brain_metastasis``, or e.g. ``malignant`` for ingested data).
        development_centre: the centre models are developed on.
        external_centres: centres kept for external validation.
        internal_fraction: share of the development centre held out for internal validation.
        seed: seeds the split.

    Raises:
        ValueError: the outcome column is missing, or the development centre has no labelled rows
            of both classes.
    """
    if outcome not in table.column_names:
        raise ValueError(f"outcome column '{outcome}' is not in the validated cohort")
    centre = np.array(table.column("center").to_pylist(), dtype=object)
    y_raw = table.column(outcome).to_pylist()
    labelled = np.array([v is not None for v in y_raw])
    y = np.array([bool(v) for v in y_raw])
    case = table.column("case_id").to_pylist() if "case_id" in table.column_names else [None] * table.num_rows
    groups = [
        f"{c}|{k or p}"
        for c, k, p in zip(
            table.column("cohort_id").to_pylist(), case, table.column("patient_id").to_pylist(), strict=True
        )
    ]

    split = np.full(table.num_rows, NOT_IN_STUDY, dtype=object)
    split[np.isin(centre, list(external_centres))] = EXTERNAL
    development = centre == development_centre
    split[development & ~labelled] = UNLABELLED
    dev_rows = np.flatnonzero(development & labelled)
    if dev_rows.size == 0 or y[dev_rows].all() or not y[dev_rows].any():
        raise ValueError(f"development centre '{development_centre}' needs labelled patients of both outcomes")
    held = stratified_group_holdout(
        [groups[i] for i in dev_rows], y[dev_rows], internal_fraction, np.random.default_rng(seed)
    )
    split[dev_rows] = np.where(held, INTERNAL, TRAINING)
    return pa.table(
        {
            "patient_id": table.column("patient_id"),
            "cohort_id": table.column("cohort_id"),
            "center": table.column("center"),
            "outcome": pa.array([v if ok else None for v, ok in zip(y.tolist(), labelled, strict=True)], pa.bool_()),
            "split": pa.array(split.tolist(), pa.string()),
        }
    )
