"""Time-to-event metrics through scikit-survival: C-index (Harrell, Uno), time-dependent AUC, Brier,
Kaplan-Meier, log-rank and calibration at a horizon (arrays in, numbers out).

``event`` is True where the event was seen at ``time``; False is censored at ``time``. ``risk`` is any
score where higher means earlier events (a Cox linear predictor, a probability, a risk at t).
Uno's C, td-AUC and the Brier score weight by the inverse probability of censoring (IPCW), estimated
by Kaplan-Meier on a reference sample (the training rows), as scikit-survival does.

Example:
    >>> import numpy as np
    >>> harrell_c(np.array([True, True, False]), np.array([2.0, 5.0, 6.0]), np.array([3.0, 2.0, 1.0]))
    1.0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def structured(event: np.ndarray, time: np.ndarray) -> np.ndarray:
    """scikit-survival's outcome array: a record of (event, time) per row."""
    from sksurv.util import Surv

    return Surv.from_arrays(np.asarray(event, dtype=bool), np.asarray(time, dtype=np.float64))


def harrell_c(event: np.ndarray, time: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C: concordant / comparable pairs, ties in risk counted one half."""
    from sksurv.metrics import concordance_index_censored

    e = np.asarray(event, dtype=bool)
    if not e.any():
        return float("nan")
    return float(concordance_index_censored(e, np.asarray(time, dtype=np.float64), np.asarray(risk, np.float64))[0])


def partial_log_likelihood(event: np.ndarray, time: np.ndarray, log_hazard: np.ndarray) -> float:
    """Cox partial log-likelihood of these log hazards (Breslow ties): over the events, the log
    hazard minus the log of the summed hazards of everyone still at risk (time >= the event's).

    Example (hand calculation: events at 1 and 2, censored at 3; log hazards 0, 0, log 2):
        >>> round(partial_log_likelihood(np.array([True, True, False]), np.array([1.0, 2.0, 3.0]),
        ...                              np.array([0.0, 0.0, np.log(2.0)])), 6)  # -log 4 - log 3
        -2.484907
    """
    e = np.asarray(event, dtype=bool)
    t = np.asarray(time, dtype=np.float64)
    eta = np.asarray(log_hazard, dtype=np.float64)
    order = np.argsort(-t, kind="mergesort")
    t, e, eta = t[order], e[order], eta[order]
    shift = float(eta.max()) if eta.size else 0.0
    at_risk = np.cumsum(np.exp(eta - shift))  # longest follow-up first: everyone with time >= t[k]
    last_tied = np.searchsorted(-t, -t, side="right") - 1  # tied times share one risk set
    return float(np.sum((eta - np.log(at_risk[last_tied]) - shift)[e]))


def uno_c(
    reference: tuple[np.ndarray, np.ndarray],
    event: np.ndarray,
    time: np.ndarray,
    risk: np.ndarray,
    tau: float | None = None,
) -> float:
    """Uno's C up to ``tau``: pairs weighted by 1 / G(t_i)^2, so it does not depend on censoring.

    ``reference`` (event, time) estimates the censoring distribution G; its follow-up must reach past
    every time in ``time`` below ``tau``.
    """
    from sksurv.metrics import concordance_index_ipcw

    e = np.asarray(event, dtype=bool)
    if not e.any():
        return float("nan")
    train = structured(*reference)
    test = structured(e, time)
    return float(concordance_index_ipcw(train, test, np.asarray(risk, np.float64), tau=tau)[0])


def td_auc(
    reference: tuple[np.ndarray, np.ndarray],
    event: np.ndarray,
    time: np.ndarray,
    risk: np.ndarray,
    horizons: np.ndarray,
) -> np.ndarray:
    """Cumulative/dynamic AUC at each horizon t: events by t (IPCW-weighted) vs those still free at t."""
    from sksurv.metrics import cumulative_dynamic_auc

    auc, _ = cumulative_dynamic_auc(
        structured(*reference), structured(event, time), np.asarray(risk, np.float64), np.asarray(horizons, float)
    )
    return np.asarray(auc, dtype=np.float64)


def integrated_brier(
    reference: tuple[np.ndarray, np.ndarray],
    event: np.ndarray,
    time: np.ndarray,
    survival: np.ndarray,
    horizons: np.ndarray,
) -> float:
    """The IPCW Brier score of predicted survival ``survival[row, horizon]``, integrated over horizons."""
    from sksurv.metrics import integrated_brier_score

    return float(
        integrated_brier_score(
            structured(*reference), structured(event, time), np.asarray(survival, float), np.asarray(horizons, float)
        )
    )


def kaplan_meier(event: np.ndarray, time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct times and the Kaplan-Meier survival just after each."""
    from sksurv.nonparametric import kaplan_meier_estimator

    times, survival = kaplan_meier_estimator(np.asarray(event, dtype=bool), np.asarray(time, dtype=np.float64))
    return np.asarray(times, dtype=np.float64), np.asarray(survival, dtype=np.float64)


def km_risk_at(event: np.ndarray, time: np.ndarray, horizon: float) -> float:
    """Observed risk by ``horizon``: 1 - Kaplan-Meier survival at ``horizon`` (0 before the first event)."""
    times, survival = kaplan_meier(event, time)
    seen = np.searchsorted(times, horizon, side="right")
    return float(1.0 - (survival[seen - 1] if seen else 1.0))


def logrank(event: np.ndarray, time: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """Log-rank test across groups: (chi-square, p-value); NaNs when fewer than two groups have rows."""
    from sksurv.compare import compare_survival

    g = np.asarray(groups)
    if np.unique(g).size < 2 or not np.asarray(event, dtype=bool).any():
        return float("nan"), float("nan")
    chisq, p = compare_survival(structured(event, time), g)
    return float(chisq), float(p)


@dataclass(frozen=True)
class CalibrationAtHorizon:
    """Predicted vs Kaplan-Meier observed risk by ``horizon``, per risk decile, and the slope.

    ``slope`` is the Cox coefficient of cloglog(predicted risk) with follow-up stopped at ``horizon``:
    1 is ideal, below 1 means predictions spread too wide (overfitting).
    """

    horizon: float
    predicted: list[float]
    observed: list[float]
    rows: list[int]
    slope: float


def calibration_at(
    event: np.ndarray, time: np.ndarray, predicted_risk: np.ndarray, horizon: float, groups: int = 10
) -> CalibrationAtHorizon:
    """Calibration of absolute risk by ``horizon``: deciles of predicted risk against Kaplan-Meier."""
    e = np.asarray(event, dtype=bool)
    t = np.asarray(time, dtype=np.float64)
    p = np.clip(np.asarray(predicted_risk, dtype=np.float64), 1e-9, 1 - 1e-9)
    order = np.argsort(p, kind="stable")
    predicted, observed, rows = [], [], []
    for part in np.array_split(order, min(groups, p.size)):
        if part.size:
            predicted.append(float(p[part].mean()))
            observed.append(km_risk_at(e[part], t[part], horizon))
            rows.append(int(part.size))
    return CalibrationAtHorizon(horizon, predicted, observed, rows, _calibration_slope(e, t, p, horizon))


def _calibration_slope(event: np.ndarray, time: np.ndarray, risk: np.ndarray, horizon: float) -> float:
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    stopped_event = event & (time <= horizon)
    if not stopped_event.any():
        return float("nan")
    cloglog = np.log(-np.log1p(-risk))
    model = CoxPHSurvivalAnalysis(ties="breslow").fit(
        cloglog[:, None], structured(stopped_event, np.minimum(time, horizon))
    )
    return float(model.coef_[0])


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float


def bootstrap(metric: Callable[[np.ndarray], float], n: int, rng: np.random.Generator, reps: int = 200) -> Estimate:
    """``metric(all rows)`` and the 2.5/97.5 percentiles of ``metric(resampled rows)``."""
    value = metric(np.arange(n))
    draws = np.array([metric(rng.integers(0, n, n)) for _ in range(reps)], dtype=np.float64)
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return Estimate(value, float("nan"), float("nan"))
    low, high = np.percentile(draws, [2.5, 97.5])
    return Estimate(value, float(low), float(high))
