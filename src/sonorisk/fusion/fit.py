"""Fit the fusion model on training patients only, from their out-of-fold Rad and DL Scores.

1. Logistic regression (L2; C and the score columns' scale from a grid) and XGBoost (small grid)
   are compared by stratified k-fold cross-validated AUC on the training split (persons whole);
   XGBoost is kept only if it beats the best logistic setting by more than one standard error of
   the paired DeLong difference, else the logistic model (ties within a kind: the stronger penalty).
   A score scale s > 1 multiplies the standardised score columns, so the penalty on their
   coefficients is s^2 times weaker than on the clinical fields': two or three strong, pre-learned
   scores should not be shrunk like fourteen weak, correlated fields (with one penalty for all, the
   DL Score's weight came out at 0.26 against 0.58 when the same model was fitted on 3,000 patients).
2. The winner's out-of-fold raw scores are calibrated (Platt, or isotonic where its CV Brier is
   lower by more than one standard error).
3. Risk-group thresholds come from the calibrated out-of-fold training risks: Youden-optimal and
   the highest threshold keeping training sensitivity >= ``min_sensitivity``.
4. The winner is refitted on all training patients. Nothing outside the training split is seen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sonorisk.fusion.calibration import choose_calibrator
from sonorisk.fusion.design import SCORE_INPUTS, InputDesign
from sonorisk.fusion.heads import BoosterHead, LinearHead
from sonorisk.fusion.model import FusionModel
from sonorisk.modelling import xgb
from sonorisk.modelling.clinical_encoding import ClinicalEncoder
from sonorisk.modelling.folds import Fold, stratified_folds
from sonorisk.stats.auc import auc
from sonorisk.stats.classification import sensitivity_threshold, youden_threshold
from sonorisk.stats.delong import delong_difference


@dataclass(frozen=True)
class FusionParams:
    """The ``fusion:`` section of params.yaml."""

    cv_folds: int = 5
    logistic_cs: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
    score_scales: tuple[float, ...] = (1.0, 2.0, 3.0)
    xgb_grid: xgb.XgbGrid = field(default_factory=lambda: xgb.XgbGrid(max_depth=(2,), min_child_weight=(1.0, 5.0)))
    calibration_folds: int = 5
    score_inputs: tuple[str, ...] = ("rad_score", "radiomics_clinical_xgb", "dl_score")
    min_sensitivity: float = 0.9
    seed: int = 0


@dataclass
class FusionFit:
    model: FusionModel
    oof_raw: np.ndarray  # per training patient, from the winning configuration's CV folds
    oof_risk: np.ndarray  # oof_raw through the calibrator
    trials: list[dict[str, Any]] = field(default_factory=list)


def _logistic(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=5000)


def _select(
    candidates: list[tuple[float, int, dict[str, Any], Any, np.ndarray]], y: np.ndarray
) -> tuple[float, int, dict[str, Any], Any, np.ndarray]:
    """The best logistic setting, unless the best booster beats it by more than noise.

    Within each kind the highest CV AUC wins (ties: the earlier, more regularised setting). The
    booster is taken only if its CV AUC exceeds the logistic model's by more than one standard error
    of the paired difference (DeLong, on the same out-of-fold scores): on a few hundred patients a
    booster that wins CV by a hair generalised worse externally (0.69 against 0.79 on the default
    study), and the simpler model is the safer choice when the data cannot tell them apart.
    """
    logistic = [c for c in candidates if c[1] == 1]
    boosters = [c for c in candidates if c[1] == 0]
    best_logistic = max(logistic, key=lambda t: t[0]) if logistic else None
    best_booster = max(boosters, key=lambda t: t[0]) if boosters else None
    if best_logistic is None or best_booster is None:
        chosen = best_logistic or best_booster
        assert chosen is not None, "no fusion candidate: set logistic_cs or an XGBoost grid"
        return chosen
    difference, variance = delong_difference(y, best_booster[4], best_logistic[4])
    if difference > np.sqrt(max(variance, 0.0)):
        best_booster[2]["chosen_over_logistic_by"] = {"auc_difference": difference, "se": float(np.sqrt(variance))}
        return best_booster
    return best_logistic


def _oof_decision(c: float, z: np.ndarray, y: np.ndarray, folds: list[Fold]) -> np.ndarray:
    """Out-of-fold logistic decision function (the raw score) over ``folds``."""
    raw = np.empty(y.size)
    for train, test in folds:
        raw[test] = _logistic(c).fit(z[train], y[train]).decision_function(z[test])
    return raw


def fit_fusion(
    rows: Sequence[Mapping[str, Any]],
    scores: Mapping[str, np.ndarray],
    outcome: np.ndarray,
    params: FusionParams,
    groups: Sequence[str] | None = None,
) -> FusionFit:
    """Fit on these (training) patients.

    Args:
        rows: clinical fields per patient.
        scores: score-table column (keys of ``SCORE_INPUTS``) -> **out-of-fold** score per patient;
            the model uses the scores given, in this order.
        outcome: label per patient.
        params: grids, folds, seed.
        groups: the person of each patient row; every CV fold keeps persons whole.
    """
    y = np.asarray(outcome).astype(bool)
    if min(int(y.sum()), int((~y).sum())) < 2:
        raise ValueError("fusion needs at least two training patients of each outcome")
    inputs = [name for name in scores if name in SCORE_INPUTS]
    design, x = InputDesign.fit(ClinicalEncoder.fit(rows), rows, scores, inputs)
    means, stds = np.asarray(design.means), np.asarray(design.stds)
    n_clinical = design.clinical_width
    z_by_scale = {}
    for scale in params.score_scales or (1.0,):
        scaled = stds.copy()
        scaled[n_clinical:] /= scale
        z_by_scale[scale] = (scaled, (x - means) / scaled)

    folds = stratified_folds(y, params.cv_folds, params.seed, groups)
    trials: list[dict[str, Any]] = []
    candidates: list[tuple[float, int, dict[str, Any], Any, np.ndarray]] = []
    first_scale = next(iter(z_by_scale))
    z = z_by_scale[first_scale][1]  # trees do not care how a column is scaled
    for scale, (_, z_scaled) in z_by_scale.items():
        for c in params.logistic_cs:
            raw = _oof_decision(c, z_scaled, y, folds)
            trials.append({"kind": "logistic", "C": c, "score_scale": scale, "cv_auc": auc(y, raw)})
            candidates.append((trials[-1]["cv_auc"], 1, trials[-1], lambda c=c: _logistic(c), raw))
    grid = xgb.parameter_grid(params.xgb_grid)
    for trial in xgb.grid_search(z, y, grid, folds, params.seed, "margin"):
        trials.append({"kind": "xgboost", **trial.params, "score_scale": first_scale, "cv_auc": trial.cv_auc})
        make = lambda grid=trial.params: xgb.classifier(grid, params.seed)  # noqa: E731
        candidates.append((trial.cv_auc, 0, trials[-1], make, trial.oof))
    best_auc, _, best_trial, make_best, oof_raw = _select(candidates, y)

    calibrator, cv_brier = choose_calibrator(oof_raw, y, params.calibration_folds, params.seed, groups)
    oof_risk = calibrator.predict_proba(oof_raw)
    thresholds = {
        "youden": youden_threshold(y, oof_risk),
        "high_sensitivity": sensitivity_threshold(y, oof_risk, params.min_sensitivity),
    }
    chosen_stds, chosen_z = z_by_scale[best_trial["score_scale"]]
    final = make_best().fit(chosen_z, y)
    linear = best_trial["kind"] == "logistic"
    design.stds = chosen_stds.tolist()
    model = FusionModel(
        kind=best_trial["kind"],
        design=design,
        head=LinearHead(final.coef_[0].tolist(), float(final.intercept_[0]))
        if linear
        else BoosterHead(final.get_booster()),
        calibrator=calibrator,
        thresholds=thresholds,
        min_sensitivity=params.min_sensitivity,
        xgb_params={}
        if linear
        else {k: v for k, v in best_trial.items() if k not in ("kind", "cv_auc", "score_scale")},
        selection={
            "cv_folds": len(folds),
            "best": best_trial,
            "best_cv_auc": best_auc,
            "calibration_cv_brier": cv_brier,
            "training_patients": int(y.size),
            "training_positive": int(y.sum()),
        },
    )
    return FusionFit(model, oof_raw, oof_risk, trials)
