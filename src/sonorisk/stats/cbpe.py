"""Confidence-based performance estimation (CBPE): what AUC, event rate and Brier score a scored
cohort should show once its outcomes are known, from calibrated probabilities alone.

If each row's outcome is Bernoulli(p) with p the calibrated risk, the expected number of
(event, non-event) pairs that ``score`` orders correctly, over the expected number of such pairs, is
the expected AUC (the ratio estimator of NannyML's CBPE, written here in O(n log n)); its interval is
that of the AUC over outcome draws from the same Bernoulli model (seeded). The estimate holds as long
as the risks stay calibrated on the new rows: covariate drift the calibration absorbs is estimated,
a changed relation between inputs and outcome is not (realised performance shows that).

Example:
    >>> p = np.array([0.9, 0.8, 0.2, 0.1])
    >>> round(expected_auc(p, p), 4)  # 1.56 of 1.68 expected (event, non-event) pairs ordered right
    0.9286
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

DRAWS = 1000  # outcome draws for the interval
MIN_ROWS = 50
MIN_EXPECTED_EVENTS = 10.0  # and as many expected non-events: fewer, and the AUC is too uncertain to quote


@dataclass(frozen=True)
class Estimate:
    rows: int
    expected_events: float
    auc: float | None  # None: too few rows or expected events (``reason`` says which)
    ci_low: float | None
    ci_high: float | None
    reason: str | None = None

    def as_dict(self) -> dict[str, float | int | str | None]:
        return {
            "rows": self.rows,
            "expected_events": round(self.expected_events, 2),
            "auc": _rounded(self.auc),
            "ci_low": _rounded(self.ci_low),
            "ci_high": _rounded(self.ci_high),
            "reason": self.reason,
        }


def expected_auc(p: np.ndarray, score: np.ndarray) -> float:
    """Expected AUC of ``score`` when row i has the outcome with probability ``p[i]`` (ties count 1/2).

    sum_{i != j} p_i (1 - p_j) H(s_i - s_j) / sum_{i != j} p_i (1 - p_j), with H(0) = 1/2, by sorting:
    each row's weight of lower-scored rows comes from a cumulative sum over the distinct scores.
    """
    p = np.asarray(p, dtype=float)
    score = np.asarray(score, dtype=float)
    q = 1.0 - p
    levels, group = np.unique(score, return_inverse=True)
    q_by_level = np.bincount(group, weights=q, minlength=len(levels))
    below = np.concatenate([[0.0], np.cumsum(q_by_level)[:-1]])[group]  # sum of q_j with s_j < s_i
    tied = q_by_level[group] - q  # sum of q_j with s_j == s_i, j != i
    correct = float(np.sum(p * (below + 0.5 * tied)))
    pairs = float(p.sum() * q.sum() - np.sum(p * q))
    return correct / pairs


def estimate_auc(
    p: np.ndarray,
    score: np.ndarray,
    rng: np.random.Generator,
    draws: int = DRAWS,
    level: float = 0.95,
    min_rows: int = MIN_ROWS,
    min_events: float = MIN_EXPECTED_EVENTS,
) -> Estimate:
    """The expected AUC of ``score`` under outcomes drawn from ``p``, with the central ``level``
    interval of the AUC over ``draws`` such draws; no number when the rows cannot carry one."""
    p = np.asarray(p, dtype=float)
    score = np.asarray(score, dtype=float)
    keep = np.isfinite(p) & np.isfinite(score)
    p, score = p[keep], score[keep]
    events = float(p.sum())
    if len(p) < min_rows or min(events, len(p) - events) < min_events:
        reason = (
            f"too few rows to estimate: {len(p)} rows, {events:.1f} expected events "
            f"(needs {min_rows} rows and {min_events:g} expected events and non-events)"
        )
        return Estimate(len(p), events, None, None, None, reason)
    ranks = rankdata(score)  # midranks: ties count 1/2, as in the Mann-Whitney AUC
    outcomes = rng.random((draws, len(p))) < p
    positives = outcomes.sum(axis=1)
    usable = (positives > 0) & (positives < len(p))
    outcomes, positives = outcomes[usable], positives[usable].astype(float)
    aucs = (outcomes @ ranks - positives * (positives + 1) / 2) / (positives * (len(p) - positives))
    tail = (1 - level) / 2
    low, high = np.quantile(aucs, [tail, 1 - tail])
    return Estimate(len(p), events, expected_auc(p, score), float(low), float(high))


def expected_brier(p: np.ndarray) -> float:
    """The Brier score a calibrated ``p`` is expected to reach: mean p (1 - p)."""
    p = np.asarray(p, dtype=float)
    return float(np.mean(p * (1 - p)))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
