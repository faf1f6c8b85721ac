"""Fit the radiomics-stage models on training rows only and score every row.

Models: the clinical-only logistic baseline, the LASSO **Rad Score**, and the radiomics + clinical
XGBoost (``radiomics/models.py``). Training rows get *out-of-fold* scores (each from models fitted
without that patient, the whole screening re-run inside each fold), which fusion needs; every other
row is scored by the models fitted on all training rows. Internal-validation and external rows never
enter a fit; the internal-validation rows' features (never their labels) put each fold model's
scores on the final model's scale (``modelling/oof.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sonorisk.cohort.split import EXTERNAL, INTERNAL, TRAINING
from sonorisk.modelling import xgb
from sonorisk.modelling.clinical_model import ClinicalLogistic
from sonorisk.modelling.folds import stratified_folds
from sonorisk.modelling.oof import auc_by_split, out_of_fold
from sonorisk.radiomics.models import MODEL_NAMES, SCALES, RadiomicsModels
from sonorisk.radiomics.robustness import feature_iccs
from sonorisk.radiomics.screening import ScreeningParams, fit_rad_score


@dataclass(frozen=True)
class ModelParams:
    icc_threshold: float = 0.75
    oof_folds: int = 10
    screening: ScreeningParams = field(default_factory=ScreeningParams)
    xgb: xgb.XgbSearch = field(default_factory=xgb.XgbSearch)
    seed: int = 0


@dataclass
class FittedModels:
    robust_features: list[str]
    iccs: dict[str, float]
    models: RadiomicsModels
    xgb_trials: list[dict[str, Any]]
    scores: dict[str, np.ndarray]  # model name -> score per row (OOF for training rows)
    metrics: dict[str, dict[str, dict[str, float | int]]]


def _fit_all(
    x: np.ndarray,
    y: np.ndarray,
    rows: Sequence[Mapping],
    names: list[str],
    params: ModelParams,
    xgb_params: dict[str, Any] | None,
) -> tuple[RadiomicsModels, list[dict[str, Any]]]:
    """Screening + Rad Score, clinical baseline and XGBoost on these rows (grid searched when
    ``xgb_params`` is None, as for the final models; the fold models reuse the final grid point)."""
    rad = fit_rad_score(x, y, names, params.screening)
    clinical = ClinicalLogistic.fit(rows, y.tolist())
    models = RadiomicsModels(rad, clinical, booster=None)
    design = models.xgb_design(_columns(x, names, rad.features), rows)
    trials: list[dict[str, Any]] = []
    if xgb_params is None:
        folds = stratified_folds(y, params.xgb.folds, params.xgb.seed)
        grid = xgb.grid_search(design, y, xgb.parameter_grid(params.xgb), folds, params.xgb.seed, "probability")
        trials = [t.params | {"cv_auc": t.cv_auc} for t in grid]
        xgb_params = xgb.best_trial(grid).params
    models.booster = xgb.classifier(xgb_params, params.seed).fit(design, y)
    models.xgb_params = xgb_params
    return models, trials


def _columns(x: np.ndarray, names: list[str], wanted: list[str]) -> np.ndarray:
    return x[:, [names.index(f) for f in wanted]] if wanted else np.zeros((x.shape[0], 0))


def _predict(
    models: RadiomicsModels, x: np.ndarray, rows: Sequence[Mapping], names: list[str]
) -> dict[str, np.ndarray]:
    return models.predict(_columns(x, names, models.features), rows)


def fit_radiomics_models(
    x: np.ndarray,
    names: list[str],
    reader2: np.ndarray,
    reader2_rows: np.ndarray,
    rows: Sequence[Mapping[str, Any]],
    split: np.ndarray,
    outcome: np.ndarray,
    params: ModelParams,
) -> FittedModels:
    """Fit on ``split == training`` rows; score all rows; AUC with 95 % CI per model and split.

    Args:
        x: (rows, features) reader-1 radiomics, NaN where extraction failed.
        names: feature names (columns of ``x`` and ``reader2``).
        reader2: (m, features) second-reader radiomics of training cases.
        reader2_rows: indices into ``x`` of those m cases.
        rows: clinical fields per row (dicts).
        split: split name per row.
        outcome: outcome per row (ignored outside labelled splits).
        params: thresholds, folds and seeds.
    """
    train = np.flatnonzero(split == TRAINING)
    y = np.asarray(outcome, dtype=bool)
    iccs = feature_iccs(x[reader2_rows], reader2, names)
    robust = [n for n in names if np.isfinite(iccs[n]) and iccs[n] >= params.icc_threshold]
    if len(robust) < 2:
        raise ValueError(f"only {len(robust)} features reach ICC >= {params.icc_threshold}; check the masks")
    xr = x[:, [names.index(n) for n in robust]]
    models, trials = _fit_all(xr[train], y[train], [rows[int(i)] for i in train], robust, params, None)
    scores = _predict(models, xr, rows, robust)
    reference = np.flatnonzero(split == INTERNAL)

    def score_fold(
        _fold: int, fit: np.ndarray, held: np.ndarray, ref: np.ndarray
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        fold_models, _ = _fit_all(xr[fit], y[fit], [rows[int(i)] for i in fit], robust, params, models.xgb_params)
        held_scores = _predict(fold_models, xr[held], [rows[int(i)] for i in held], robust)
        ref_scores = _predict(fold_models, xr[ref], [rows[int(i)] for i in ref], robust) if ref.size else {}
        return held_scores, ref_scores

    final_reference = {name: scores[name][reference] for name in MODEL_NAMES}
    oof = out_of_fold(train, y, reference, final_reference, SCALES, score_fold, params.oof_folds, params.seed)
    for name in MODEL_NAMES:
        scores[name][train] = oof[name][train]

    metrics = {name: auc_by_split(y, scores[name], split, (TRAINING, INTERNAL, EXTERNAL)) for name in MODEL_NAMES}
    return FittedModels(robust, iccs, models, trials, scores, metrics)
