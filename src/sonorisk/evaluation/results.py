"""The study-style results: every model x every cohort, at thresholds fixed on training data.

Models are the single-source scores and the fusion risk, read from the fusion stage's score table.
Scores on the logit scale (clinical-only, Rad Score) become probabilities through the logistic
function, so Brier, calibration and net benefit are defined for every model. Each model's threshold
is the Youden-optimal one on the training patients' out-of-fold probabilities (fusion: the one
stored with the model); no other cohort is used to choose anything.

Example:
    >>> import numpy as np
    >>> y = np.array([1, 1, 0, 0, 1, 0, 0, 0])
    >>> p = {"fusion_risk": np.array([.9, .6, .5, .2, .7, .1, .3, .4]),
    ...      "dl_score": np.array([.6, .4, .5, .2, .7, .1, .3, .4])}
    >>> r = cohort_results(y, p, {"fusion_risk": 0.55, "dl_score": 0.45})
    >>> r["fusion_risk"]["auc"], r["fusion_risk"]["sensitivity"], r["dl_score"]["delong_p_vs_fusion"] < 1
    (1.0, 1.0, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from sonorisk.fusion.score_table import FUSION
from sonorisk.stats.classification import (
    at_threshold,
    brier,
    calibration_intercept_slope,
    net_benefit,
    treat_all_net_benefit,
)
from sonorisk.stats.delong import auc_ci, delong_test

DECISION_THRESHOLDS = np.round(np.arange(0.01, 0.61, 0.01), 2)


def cohorts(table: pl.DataFrame) -> list[tuple[str, np.ndarray]]:
    """(name, row mask): training (OOF), internal validation, and one per external centre."""
    split = table["split"].to_numpy()
    centre = table["center"].to_numpy()
    groups = [("training", split == "training"), ("internal_validation", split == "internal_validation")]
    for c in sorted(set(centre[split == "external"])):
        groups.append((f"external_{c}", (split == "external") & (centre == c)))
    return [(name, mask) for name, mask in groups if mask.any()]


def cohort_results(
    y: np.ndarray, probs: Mapping[str, np.ndarray], thresholds: Mapping[str, float]
) -> dict[str, dict[str, Any]]:
    """Per model: AUC + DeLong CI, metrics at its threshold, Brier, calibration, DeLong vs fusion."""
    y = np.asarray(y).astype(bool)
    results: dict[str, dict[str, Any]] = {}
    both_classes = 0 < int(y.sum()) < y.size
    for name, p in probs.items():
        ok = np.isfinite(p)
        row: dict[str, Any] = {"n": int(ok.sum()), "missing": int((~ok).sum())}
        row |= auc_ci(y[ok], p[ok]).as_dict()
        row |= at_threshold(y[ok], p[ok], thresholds[name]).as_dict()
        row["brier"] = brier(y[ok], p[ok])
        if both_classes:
            row["calibration_intercept"], row["calibration_slope"] = calibration_intercept_slope(y[ok], p[ok])
        if name != FUSION and FUSION in probs:
            both = ok & np.isfinite(probs[FUSION])
            row["auc_difference_fusion_minus_model"], row["delong_p_vs_fusion"] = delong_test(
                y[both], probs[FUSION][both], p[both]
            )
        results[name] = row
    return results


def decision_curves(y: np.ndarray, probs: Mapping[str, np.ndarray]) -> dict[str, list[float]]:
    """Net benefit across DECISION_THRESHOLDS for each model, treat-all and treat-none."""
    curves = {
        name: net_benefit(y[np.isfinite(p)], p[np.isfinite(p)], DECISION_THRESHOLDS).tolist()
        for name, p in probs.items()
    }
    curves["treat_all"] = treat_all_net_benefit(y, DECISION_THRESHOLDS).tolist()
    curves["treat_none"] = [0.0] * DECISION_THRESHOLDS.size
    return curves


def oracle(y: np.ndarray, true_probability: np.ndarray) -> dict[str, float | int]:
    """AUC of the generator's true probability: the ceiling for any model on this cohort."""
    return auc_ci(np.asarray(y).astype(bool), true_probability).as_dict()
