"""Population stability index: how far a new sample's distribution moved from a reference.

``PSI = sum_i (new_i - ref_i) * ln(new_i / ref_i)`` over bins i, with shares floored at ``FLOOR`` so
an empty bin counts as rare, not infinite. Numbers are binned at the reference's quantiles (equal
reference shares, at least ``MIN_PER_BIN`` reference values per bin, at most 10 bins); few distinct
values (grades, stages, flags) and strings are binned by value. Missing values get their own bin.
Rule of thumb (Siddiqi 2006): < 0.1 stable, 0.1-0.25 some shift, >= 0.25 a shift worth acting on.

Example: a hand calculation, reference shares 0.5/0.5 and new shares 0.8/0.2:
    >>> ref = reference_of(["a"] * 50 + ["b"] * 50)
    >>> round(psi(ref, ["a"] * 8 + ["b"] * 2), 4)  # 0.3 ln(1.6) + (-0.3) ln(0.4)
    0.4159
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

FLOOR = 1e-4
MAX_BINS = 10
MIN_PER_BIN = 50  # 250 development rows -> 5 bins: PSI noise on 100 new rows stays well under 0.25
MAX_LEVELS = 10  # at most this many distinct numbers: binned by value
MISSING = "(missing)"


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _level_key(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _bin_counts(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Values per bin: (-inf, e0], (e0, e1], ..., (e_last, inf)."""
    return np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)


def reference_of(values: Sequence[Any], min_per_bin: int = MIN_PER_BIN) -> dict[str, Any]:
    """The reference distribution of ``values`` as plain JSON: its bins and their shares."""
    present = [v for v in values if not _is_missing(v)]
    n = len(values)
    missing = (n - len(present)) / n if n else 0.0
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in present)
    if not numeric or len(set(present)) <= MAX_LEVELS:
        counts = Counter(_level_key(v) for v in present)
        return {
            "kind": "levels",
            "shares": {k: c / n for k, c in sorted(counts.items())},
            "missing": missing,
            "n": n,
        }
    array = np.asarray(present, dtype=np.float64)
    bins = max(2, min(MAX_BINS, len(array) // min_per_bin))
    edges = np.unique(np.quantile(array, np.linspace(0, 1, bins + 1)[1:-1]))
    shares = _bin_counts(edges, array) / n
    return {"kind": "bins", "edges": edges.tolist(), "shares": shares.tolist(), "missing": missing, "n": n}


def shares_of(reference: dict[str, Any], values: Sequence[Any]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Bin labels, reference shares and new shares (each summing to 1 with the missing bin)."""
    n = max(len(values), 1)
    present = [v for v in values if not _is_missing(v)]
    missing_new = (len(values) - len(present)) / n
    if reference["kind"] == "levels":
        known = list(reference["shares"])
        counts = Counter(_level_key(v) for v in present)
        other = sum(c for k, c in counts.items() if k not in reference["shares"])
        labels = [*known, "(other)", MISSING]
        ref = [*reference["shares"].values(), 0.0, reference["missing"]]
        new = [*(counts.get(k, 0) / n for k in known), other / n, missing_new]
    else:
        edges = np.asarray(reference["edges"], dtype=np.float64)
        counts_new = _bin_counts(edges, np.asarray(present, dtype=np.float64))
        bounds = ["-inf", *(f"{e:.4g}" for e in edges), "inf"]
        labels = [f"({bounds[i]}, {bounds[i + 1]}]" for i in range(len(edges) + 1)] + [MISSING]
        ref = [*reference["shares"], reference["missing"]]
        new = [*(counts_new / n), missing_new]
    return labels, np.asarray(ref, dtype=np.float64), np.asarray(new, dtype=np.float64)


def psi(reference: dict[str, Any], values: Sequence[Any]) -> float:
    """PSI of ``values`` against ``reference`` (from ``reference_of``); bins empty on both sides add 0."""
    _, ref, new = shares_of(reference, values)
    used = (ref > 0) | (new > 0)
    ref, new = np.maximum(ref[used], FLOOR), np.maximum(new[used], FLOOR)
    return float(np.sum((new - ref) * np.log(new / ref)))
