"""DeLong's AUC variance, confidence interval and paired test (DeLong, DeLong & Clarke-Pearson 1988),
via the fast midrank algorithm of Sun & Xu (2014).

Example:
    >>> import numpy as np
    >>> y = np.array([0, 0, 0, 1, 1, 1]); s = np.array([0.1, 0.3, 0.6, 0.4, 0.8, 0.9])
    >>> result = auc_ci(y, s)
    >>> round(result.auc, 4), result.low < result.auc < result.high
    (0.8889, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata


@dataclass(frozen=True)
class AucEstimate:
    auc: float
    variance: float
    low: float
    high: float
    n_positive: int
    n_negative: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "auc": self.auc,
            "ci_low": self.low,
            "ci_high": self.high,
            "n_positive": self.n_positive,
            "n_negative": self.n_negative,
        }


def _structural_components(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs (per score row) and the V10 (positives) and V01 (negatives) structural components."""
    positive, negative = scores[:, y], scores[:, ~y]
    m, n = positive.shape[1], negative.shape[1]
    aucs, v10, v01 = [], [], []
    for pos, neg in zip(positive, negative, strict=True):
        all_ranks = rankdata(np.concatenate([pos, neg]))
        pos_ranks, neg_ranks = rankdata(pos), rankdata(neg)
        aucs.append((all_ranks[:m].sum() - m * (m + 1) / 2) / (m * n))
        v10.append((all_ranks[:m] - pos_ranks) / n)
        v01.append(1.0 - (all_ranks[m:] - neg_ranks) / m)
    return np.array(aucs), np.array(v10), np.array(v01)


def delong_covariance(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and their DeLong covariance for one or several score rows on the same cases.

    Args:
        labels: (n,) outcome.
        scores: (n,) or (models, n) scores; higher = more likely positive.
    """
    y = np.asarray(labels).astype(bool)
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    aucs, v10, v01 = _structural_components(y, s)
    m, n = v10.shape[1], v01.shape[1]
    covariance = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, covariance


def auc_ci(labels: np.ndarray, scores: np.ndarray, level: float = 0.95) -> AucEstimate:
    """AUC with a DeLong (normal, clipped to [0, 1]) confidence interval."""
    y = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos < 2 or n_neg < 2:
        nan = float("nan")
        return AucEstimate(nan, nan, nan, nan, n_pos, n_neg)
    aucs, cov = delong_covariance(y, scores)
    auc, var = float(aucs[0]), float(cov[0, 0])
    half = norm.ppf(0.5 + level / 2) * np.sqrt(max(var, 0.0))
    return AucEstimate(auc, var, max(0.0, auc - half), min(1.0, auc + half), n_pos, n_neg)


def delong_difference(labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray) -> tuple[float, float]:
    """AUC(a) - AUC(b) on the same cases and the DeLong variance of that difference."""
    aucs, cov = delong_covariance(labels, np.vstack([scores_a, scores_b]))
    return float(aucs[0] - aucs[1]), float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])


def delong_test(labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray) -> tuple[float, float]:
    """Paired DeLong test of AUC(a) = AUC(b): returns (AUC difference a - b, two-sided p-value)."""
    diff, var = delong_difference(labels, scores_a, scores_b)
    if var <= 0:
        return diff, 1.0 if diff == 0 else 0.0
    return diff, float(2 * norm.sf(abs(diff) / np.sqrt(var)))
