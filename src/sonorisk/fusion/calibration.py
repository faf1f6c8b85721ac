"""Probability calibration of a fused risk score: Platt scaling or isotonic regression, as plain JSON.

Both map a raw score (a logit or a booster margin) to a probability and are fitted on out-of-fold
raw scores of training patients only. ``choose_calibrator`` keeps Platt unless isotonic's
cross-validated Brier score is lower by more than one standard error of the paired difference:
isotonic's plateaus tie every patient on a step, which costs the ranking (AUC) on new cohorts, so
it has to earn them.

Example:
    >>> import numpy as np
    >>> raw = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
    >>> y = np.array([0, 0, 1, 0, 1, 1])
    >>> platt = PlattCalibrator.fit(raw, y)
    >>> bool(np.all(np.diff(platt.predict_proba(raw)) > 0))
    True
    >>> IsotonicCalibrator.fit(raw, y).predict_proba(np.array([-5.0, 5.0])).tolist()
    [0.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sonorisk.modelling.folds import stratified_folds
from sonorisk.stats.classification import brier


@dataclass(frozen=True)
class PlattCalibrator:
    """p = 1 / (1 + exp(-(a + b * raw))), fitted by unpenalised logistic regression."""

    a: float
    b: float
    method: str = "platt"

    @classmethod
    def fit(cls, raw: np.ndarray, labels: np.ndarray) -> PlattCalibrator:
        from sklearn.linear_model import LogisticRegression

        fit = LogisticRegression(C=np.inf, max_iter=1000).fit(
            np.asarray(raw, dtype=np.float64).reshape(-1, 1), np.asarray(labels).astype(int)
        )
        return cls(float(fit.intercept_[0]), float(fit.coef_[0, 0]))

    def predict_proba(self, raw: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.a + self.b * np.asarray(raw, dtype=np.float64))))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PlattCalibrator:
        return cls(float(raw["a"]), float(raw["b"]))


@dataclass(frozen=True)
class IsotonicCalibrator:
    """A non-decreasing step function through (x, y) knots, linear between knots, flat outside."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    method: str = "isotonic"

    @classmethod
    def fit(cls, raw: np.ndarray, labels: np.ndarray) -> IsotonicCalibrator:
        from sklearn.isotonic import IsotonicRegression

        fit = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
            np.asarray(raw, dtype=np.float64), np.asarray(labels, dtype=np.float64)
        )
        return cls(tuple(float(v) for v in fit.X_thresholds_), tuple(float(v) for v in fit.y_thresholds_))

    def predict_proba(self, raw: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(raw, dtype=np.float64), np.asarray(self.x), np.asarray(self.y))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> IsotonicCalibrator:
        return cls(tuple(raw["x"]), tuple(raw["y"]))


Calibrator = PlattCalibrator | IsotonicCalibrator
# method -> calibrator; the first wins a tie of cross-validated Brier scores (two parameters)
CALIBRATORS: dict[str, type[PlattCalibrator] | type[IsotonicCalibrator]] = {
    "platt": PlattCalibrator,
    "isotonic": IsotonicCalibrator,
}


def calibrator_from_dict(raw: dict[str, Any]) -> Calibrator:
    if raw["method"] not in CALIBRATORS:
        raise ValueError(f"unknown calibration method {raw['method']!r} (known: {', '.join(CALIBRATORS)})")
    return CALIBRATORS[raw["method"]].from_dict(raw)


def choose_calibrator(
    raw: np.ndarray, labels: np.ndarray, folds: int, seed: int, groups: Sequence[str] | None = None
) -> tuple[Calibrator, dict[str, float]]:
    """Cross-validated Brier score of each method on ``raw``; the chosen one refitted on all of it.

    The first method (Platt, two parameters) is kept unless another one's CV Brier is lower by more
    than one standard error of the paired per-patient difference. Returns the fitted calibrator and
    {method: CV Brier}.
    """
    y = np.asarray(labels).astype(bool)
    raw = np.asarray(raw, dtype=np.float64)
    splits = stratified_folds(y, folds, seed, groups)
    squared: dict[str, np.ndarray] = {}
    cv_brier: dict[str, float] = {}
    for method, kind in CALIBRATORS.items():
        held_out = np.empty(y.size)
        for train, test in splits:
            held_out[test] = kind.fit(raw[train], y[train]).predict_proba(raw[test])
        squared[method] = (held_out - y) ** 2
        cv_brier[method] = brier(y, held_out)
    simplest = next(iter(CALIBRATORS))
    best = simplest
    for method in CALIBRATORS:
        gain = squared[simplest] - squared[method]
        if gain.mean() > gain.std(ddof=1) / np.sqrt(gain.size) and cv_brier[method] < cv_brier[best]:
            best = method
    return CALIBRATORS[best].fit(raw, y), cv_brier
