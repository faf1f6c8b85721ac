"""Survival building blocks shared by every time-to-event model: a ridge-penalised Cox fit
(scikit-survival), gradient-boosted Cox (xgboost ``survival:cox``) and the Breslow baseline that
turns any log-hazard score into an absolute risk by a horizon.

Both fits return a log relative hazard (higher = earlier events); ``Baseline`` is fitted on the
training rows' scores and holds the cumulative baseline hazard H0 as a step function, so
``risk(t) = 1 - exp(-H0(t) * exp(score))`` whichever model made the score. Everything is plain
numbers, saved as JSON (the booster as UBJ by the caller).

Example:
    >>> import numpy as np
    >>> base = Baseline.fit(np.zeros(4), np.array([True, True, False, True]), np.array([1., 2., 3., 4.]))
    >>> [round(h, 4) for h in base.cumulative_hazard]  # Nelson-Aalen with no covariates: 1/4, +1/3, +1/1
    [0.25, 0.5833, 0.5833, 1.5833]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sonorisk.modelling.folds import Fold


@dataclass(frozen=True)
class Baseline:
    """Breslow's cumulative baseline hazard at the training times."""

    times: list[float]
    cumulative_hazard: list[float]

    @classmethod
    def fit(cls, score: np.ndarray, event: np.ndarray, time: np.ndarray) -> Baseline:
        from sksurv.linear_model.coxph import BreslowEstimator

        estimator = BreslowEstimator().fit(
            np.asarray(score, np.float64), np.asarray(event, bool), np.asarray(time, np.float64)
        )
        step = estimator.cum_baseline_hazard_
        return cls([float(t) for t in step.x], [float(h) for h in step.y])

    def hazard_at(self, horizon: float) -> float:
        seen = int(np.searchsorted(np.asarray(self.times), horizon, side="right"))
        return self.cumulative_hazard[seen - 1] if seen else 0.0

    def risk_at(self, score: np.ndarray, horizon: float) -> np.ndarray:
        """Absolute risk of the event by ``horizon`` for each log-hazard score."""
        return -np.expm1(-self.hazard_at(horizon) * np.exp(np.asarray(score, np.float64)))

    def to_dict(self) -> dict[str, Any]:
        return {"times": self.times, "cumulative_hazard": self.cumulative_hazard}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Baseline:
        return cls(list(raw["times"]), list(raw["cumulative_hazard"]))


def _outcome(event: np.ndarray, time: np.ndarray) -> np.ndarray:
    from sksurv.util import Surv

    return Surv.from_arrays(np.asarray(event, bool), np.asarray(time, np.float64))


def fit_cox(z: np.ndarray, event: np.ndarray, time: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge-penalised Cox coefficients (penalty ``alpha/2 * ||b||^2``) on the standardised design."""
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    model = CoxPHSurvivalAnalysis(alpha=alpha, ties="breslow", n_iter=200)
    return np.asarray(model.fit(z, _outcome(event, time)).coef_, dtype=np.float64)


@dataclass(frozen=True)
class CoxBoostSetting:
    """One point of the Cox-boosting grid (an entry of ``survival.xgb_grid`` in params.yaml)."""

    max_depth: int = 2
    rounds: int = 100
    learning_rate: float = 0.05
    min_child_weight: int | float = 5.0


def xgb_cox_params(setting: CoxBoostSetting, seed: int) -> dict[str, Any]:
    """xgboost training parameters for Cox boosting; exact, single-threaded trees, as the classifiers."""
    return {
        "objective": "survival:cox",
        "eval_metric": "cox-nloglik",
        "tree_method": "exact",
        "nthread": 1,
        "seed": seed,
        "learning_rate": setting.learning_rate,
        "max_depth": setting.max_depth,
        "min_child_weight": setting.min_child_weight,
        "subsample": 1.0,
    }


def fit_xgb_cox(z: np.ndarray, event: np.ndarray, time: np.ndarray, setting: CoxBoostSetting, seed: int) -> Any:
    """A Cox booster; xgboost reads censoring from the label's sign (negative = censored)."""
    import xgboost

    label = np.where(np.asarray(event, bool), np.asarray(time, np.float64), -np.asarray(time, np.float64))
    matrix = xgboost.DMatrix(z, label=label)
    return xgboost.train(xgb_cox_params(setting, seed), matrix, num_boost_round=setting.rounds)


def xgb_log_hazard(booster: Any, z: np.ndarray) -> np.ndarray:
    import xgboost

    return np.asarray(booster.predict(xgboost.DMatrix(z), output_margin=True), dtype=np.float64)


def oof_log_hazard(
    z: np.ndarray, event: np.ndarray, time: np.ndarray, folds: list[Fold], fit_predict: Any
) -> np.ndarray:
    """Out-of-fold log-hazard: ``fit_predict(fit rows, held rows) -> scores for the held rows``."""
    out = np.empty(len(z))
    for fit_rows, held in folds:
        out[held] = fit_predict(fit_rows, held)
    return out
