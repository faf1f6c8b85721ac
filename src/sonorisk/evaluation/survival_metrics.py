"""Survival metrics of every time-to-event model on one cohort: Harrell's and Uno's C with bootstrap
CIs, cumulative/dynamic AUC at the horizons, the integrated Brier score, calibration at 24/36 months
and Kaplan-Meier by risk group with the log-rank test.

Uno's C, td-AUC and the Brier score weight by the cohort's own censoring distribution (Kaplan-Meier
of its follow-up): censoring is a property of the cohort's follow-up, not of the training centre's.
A horizon is reported only where the cohort has events before it and patients followed past it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sonorisk.stats.survival import (
    bootstrap,
    calibration_at,
    harrell_c,
    integrated_brier,
    kaplan_meier,
    logrank,
    td_auc,
    uno_c,
)


@dataclass(frozen=True)
class ScoredModel:
    """One model's predictions on the cohort: a ranking score and absolute risk by any horizon."""

    label: str
    score: np.ndarray  # higher = earlier events (log hazard, or a probability for the oracle)
    risk_at: Callable[[float], np.ndarray]


def usable_horizons(event: np.ndarray, time: np.ndarray, horizons: Sequence[float]) -> list[float]:
    """Horizons with at least one event before and one patient followed beyond them."""
    e, t = np.asarray(event, bool), np.asarray(time, float)
    return [float(h) for h in horizons if (e & (t <= h)).any() and (t > h).any()]


def model_metrics(
    event: np.ndarray,
    time: np.ndarray,
    model: ScoredModel,
    horizons: Sequence[float],
    tau: float,
    rng: np.random.Generator,
    reps: int,
) -> dict[str, Any]:
    e, t = np.asarray(event, bool), np.asarray(time, float)
    score = np.asarray(model.score, float)
    n = t.size
    horizons = usable_horizons(e, t, horizons)
    tau = min(tau, float(t[e].max())) if e.any() else tau

    def harrell(rows: np.ndarray) -> float:
        return harrell_c(e[rows], t[rows], score[rows])

    def uno(rows: np.ndarray) -> float:
        try:
            return uno_c((e[rows], t[rows]), e[rows], t[rows], score[rows], tau=tau)
        except ValueError:  # a resample whose censoring curve reaches zero before tau
            return float("nan")

    out: dict[str, Any] = {
        "label": model.label,
        "harrell_c": asdict(bootstrap(harrell, n, rng, reps)),
        "uno_c": asdict(bootstrap(uno, n, rng, reps)),
        "uno_tau_months": tau,
        "td_auc": {},
        "calibration": {},
    }
    if horizons:
        aucs = td_auc((e, t), e, t, score, np.asarray(horizons))
        out["td_auc"] = {f"{h:g}": float(a) for h, a in zip(horizons, aucs, strict=True)}
        grid = np.linspace(min(horizons), max(horizons), 12)
        survival = np.column_stack([1.0 - model.risk_at(float(h)) for h in grid])
        out["integrated_brier"] = integrated_brier((e, t), e, t, survival, grid)
        out["integrated_brier_months"] = [float(grid[0]), float(grid[-1])]
        for h in horizons:
            if h >= 24:
                out["calibration"][f"{h:g}"] = asdict(calibration_at(e, t, model.risk_at(h), h))
    return out


def km_by_group(event: np.ndarray, time: np.ndarray, groups: Sequence[str]) -> dict[str, Any]:
    """Kaplan-Meier curve per risk group and the log-rank test across groups."""
    e, t, g = np.asarray(event, bool), np.asarray(time, float), np.asarray(list(groups), dtype=object)
    curves = {}
    for name in sorted(set(g.tolist())):
        rows = g == name
        times, surv = kaplan_meier(e[rows], t[rows])
        curves[str(name)] = {
            "patients": int(rows.sum()),
            "events": int(e[rows].sum()),
            "times": times.tolist(),
            "survival": surv.tolist(),
        }
    chisq, p = logrank(e, t, g)
    return {"curves": curves, "logrank_chisq": chisq, "logrank_p": p}


def cohort_metrics(
    event: np.ndarray,
    time: np.ndarray,
    models: Mapping[str, ScoredModel],
    horizons: Sequence[float],
    tau: float,
    seed: int,
    reps: int = 200,
) -> dict[str, Any]:
    """Every model's metrics on one cohort, each bootstrap seeded from ``seed`` and the model's name."""
    e, t = np.asarray(event, bool), np.asarray(time, float)
    per_model = {}
    for i, (name, model) in enumerate(models.items()):
        rng = np.random.default_rng(np.random.SeedSequence([seed, i]))
        per_model[name] = model_metrics(e, t, model, horizons, tau, rng, reps)
    return {
        "patients": int(t.size),
        "events": int(e.sum()),
        "median_followup_months": float(np.median(t)) if t.size else float("nan"),
        "horizons_months": usable_horizons(e, t, horizons),
        "models": per_model,
    }
