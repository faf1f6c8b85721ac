"""Metrics of a risk score beyond the AUC: at a threshold fixed on training data, the Brier score,
calibration intercept and slope, and decision-curve net benefit.

Example:
    >>> import numpy as np
    >>> m = at_threshold(np.array([1, 1, 0, 0, 1]), np.array([0.9, 0.4, 0.6, 0.1, 0.7]), 0.5)
    >>> m.tp, m.fn, m.fp, m.tn, round(m.sensitivity, 3)
    (2, 1, 1, 1, 0.667)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class ThresholdMetrics:
    """Confusion-matrix metrics at ``threshold`` (score >= threshold is called positive)."""

    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int
    accuracy: float
    sensitivity: float
    specificity: float
    ppv: float
    npv: float
    f1: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def at_threshold(labels: np.ndarray, scores: np.ndarray, threshold: float) -> ThresholdMetrics:
    """Accuracy, sensitivity, specificity, PPV, NPV and F1; NaN where a denominator is zero."""
    y = np.asarray(labels).astype(bool)
    called = np.asarray(scores, dtype=np.float64) >= threshold
    tp, fp = int((called & y).sum()), int((called & ~y).sum())
    tn, fn = int((~called & ~y).sum()), int((~called & y).sum())
    return ThresholdMetrics(
        threshold=float(threshold),
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
        accuracy=_ratio(tp + tn, tp + fp + tn + fn),
        sensitivity=_ratio(tp, tp + fn),
        specificity=_ratio(tn, tn + fp),
        ppv=_ratio(tp, tp + fp),
        npv=_ratio(tn, tn + fn),
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
    )


def youden_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The observed score that maximises sensitivity + specificity - 1 (the lowest such score on ties)."""
    candidates = np.unique(np.asarray(scores, dtype=np.float64))
    best, best_j = float(candidates[0]), -np.inf
    for t in candidates:
        m = at_threshold(labels, scores, float(t))
        j = m.sensitivity + m.specificity - 1
        if j > best_j:
            best, best_j = float(t), j
    return best


def sensitivity_threshold(labels: np.ndarray, scores: np.ndarray, min_sensitivity: float = 0.9) -> float:
    """The highest observed score whose sensitivity is at least ``min_sensitivity``."""
    y = np.asarray(labels).astype(bool)
    positives = np.sort(np.asarray(scores, dtype=np.float64)[y])[::-1]
    if positives.size == 0:
        raise ValueError("no positive cases: a sensitivity threshold is undefined")
    needed = int(np.ceil(min_sensitivity * positives.size - 1e-12))
    return float(positives[max(needed, 1) - 1])


def brier(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean squared difference between the predicted probability and the outcome (scikit-learn)."""
    from sklearn.metrics import brier_score_loss

    return float(brier_score_loss(np.asarray(labels).astype(bool), np.asarray(probabilities, dtype=np.float64)))


def calibration_intercept_slope(labels: np.ndarray, probabilities: np.ndarray) -> tuple[float, float]:
    """Logistic recalibration: fit outcome ~ a + b * logit(p) by maximum likelihood (no penalty).

    A perfectly calibrated model has intercept 0 and slope 1; slope < 1 means predictions too extreme.
    """
    from sklearn.linear_model import LogisticRegression

    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1 - 1e-12)
    logit = np.log(p / (1 - p)).reshape(-1, 1)
    fit = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=1000).fit(logit, np.asarray(labels).astype(int))
    return float(fit.intercept_[0]), float(fit.coef_[0, 0])


def net_benefit(labels: np.ndarray, probabilities: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Decision-curve net benefit at each threshold probability pt: TP/n - FP/n * pt / (1 - pt)."""
    y = np.asarray(labels).astype(bool)
    p = np.asarray(probabilities, dtype=np.float64)
    n = y.size
    out = []
    for pt in np.asarray(thresholds, dtype=np.float64):
        called = p >= pt
        out.append((called & y).sum() / n - (called & ~y).sum() / n * pt / (1 - pt))
    return np.asarray(out)


def treat_all_net_benefit(labels: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Net benefit of treating everyone: prevalence - (1 - prevalence) * pt / (1 - pt)."""
    prevalence = float(np.mean(np.asarray(labels).astype(bool)))
    pt = np.asarray(thresholds, dtype=np.float64)
    return prevalence - (1 - prevalence) * pt / (1 - pt)
