"""Probability calibration of a fused risk score: Platt scaling or isotonic regression, as plain JSON.

Both map a raw score (a logit or a booster margin) to a probability and are fitted on out-of-fold
raw scores of training patients only. ``choose_calibrator`` picks the one with the lower
cross-validated Brier score.

Example:
    >>> import numpy as np
    >>> raw = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
    >>> y = np.array([0, 0, 1, 0, 1, 1])
    >>> platt = PlattCalibrator.fit(raw, y)
    >>> bool(np.all(np.diff(platt.apply(raw)) > 0))
    True
    >>> IsotonicCalibrator.fit(raw, y).apply(np.array([-5.0, 5.0])).tolist()
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

    def apply(self, raw: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.a + self.b * np.asarray(raw, dtype=np.float64))))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "a": self.a, "b": self.b}


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

    def apply(self, raw: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(raw, dtype=np.float64), np.asarray(self.x), np.asarray(self.y))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "x": list(self.x), "y": list(self.y)}


def calibrator_from_dict(raw: dict[str, Any]) -> PlattCalibrator | IsotonicCalibrator:
    if raw["method"] == "platt":
        return PlattCalibrator(float(raw["a"]), float(raw["b"]))
    if raw["method"] == "isotonic":
        return IsotonicCalibrator(tuple(raw["x"]), tuple(raw["y"]))
    raise ValueError(f"unknown calibration method {raw['method']!r}")


_FITTERS: dict[str, Any] = {"platt": PlattCalibrator.fit, "isotonic": IsotonicCalibrator.fit}


def choose_calibrator(
    raw: np.ndarray, labels: np.ndarray, folds: int, seed: int, groups: Sequence[str] | None = None
) -> tuple[PlattCalibrator | IsotonicCalibrator, dict[str, float]]:
    """Cross-validated Brier score of each method on ``raw``; the winner refitted on all of it.

    Returns the fitted calibrator and {method: CV Brier}. Ties go to Platt (two parameters).
    """
    y = np.asarray(labels).astype(bool)
    raw = np.asarray(raw, dtype=np.float64)
    splits = stratified_folds(y, folds, seed, groups)
    cv_brier = {}
    for method, fitter in _FITTERS.items():
        held_out = np.empty(y.size)
        for train, test in splits:
            held_out[test] = fitter(raw[train], y[train]).apply(raw[test])
        cv_brier[method] = brier(y, held_out)
    best = min(cv_brier, key=lambda m: (cv_brier[m], m != "platt"))
    return _FITTERS[best](raw, y), cv_brier
