"""Fit the radiomics-stage models on training rows only and score every row.

Models: the clinical-only logistic baseline, the LASSO **Rad Score**, and the radiomics + clinical
XGBoost. Training rows get *out-of-fold* scores (each from models fitted without that patient, the
whole screening re-run inside each fold), which fusion needs; every other row is scored by the
models fitted on all training rows. Internal-validation and external rows never enter a fit; the
internal-validation rows' features (never their labels) put each fold model's scores on the final
model's scale (``evaluation/oof_alignment.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sonorisk.cohort.clinical_model import ClinicalLogistic
from sonorisk.cohort.split import EXTERNAL, INTERNAL, TRAINING
from sonorisk.evaluation.delong import auc_ci
from sonorisk.evaluation.oof_alignment import align_to_reference
from sonorisk.radiomics import xgb_model
from sonorisk.radiomics.robustness import feature_iccs
from sonorisk.radiomics.screening import RadScoreModel, ScreeningParams, fit_rad_score

MODEL_NAMES = ("clinical_only", "rad_score", "radiomics_clinical_xgb")
_SCALES = {"clinical_only": "linear", "rad_score": "linear", "radiomics_clinical_xgb": "probability"}


@dataclass(frozen=True)
class ModelParams:
    icc_threshold: float = 0.75
    oof_folds: int = 10
    screening: ScreeningParams = field(default_factory=ScreeningParams)
    xgb: xgb_model.XgbSearch = field(default_factory=xgb_model.XgbSearch)
    seed: int = 0


@dataclass
class FittedModels:
    robust_features: list[str]
    iccs: dict[str, float]
    rad_score: RadScoreModel
    clinical: ClinicalLogistic
    xgb: Any
    xgb_columns: list[str]
    xgb_params: dict[str, Any]
    xgb_trials: list[dict[str, Any]]
    scores: dict[str, np.ndarray]  # model name -> score per row (OOF for training rows)
    metrics: dict[str, dict[str, dict[str, float | int]]]


def _xgb_design(
    x_rad: np.ndarray, rad: RadScoreModel, names: list[str], clinical: ClinicalLogistic, rows: Sequence[Mapping]
) -> np.ndarray:
    columns = [names.index(f) for f in rad.features]
    rad_part = x_rad[:, columns] if columns else np.zeros((x_rad.shape[0], 0))
    return np.column_stack([rad_part, clinical.encoder.transform(rows)])


def _fit_all(
    x: np.ndarray,
    y: np.ndarray,
    rows: Sequence[Mapping],
    names: list[str],
    params: ModelParams,
    xgb_params: dict[str, Any] | None,
) -> tuple[RadScoreModel, ClinicalLogistic, Any, dict[str, Any], list[dict[str, Any]]]:
    rad = fit_rad_score(x, y, names, params.screening)
    clinical = ClinicalLogistic.fit(rows, y.tolist())
    design = _xgb_design(x, rad, names, clinical, rows)
    trials: list[dict[str, Any]] = []
    if xgb_params is None:
        xgb_params, trials = xgb_model.tune(design, y, params.xgb)
    booster = xgb_model.fit(design, y, xgb_params, params.seed)
    return rad, clinical, booster, xgb_params, trials


def _predict(
    rad: RadScoreModel,
    clinical: ClinicalLogistic,
    booster: Any,
    x: np.ndarray,
    rows: Sequence[Mapping],
    names: list[str],
) -> dict[str, np.ndarray]:
    rad_columns = [names.index(f) for f in rad.features]
    return {
        "clinical_only": clinical.predict_logit(rows),
        "rad_score": rad.score(x[:, rad_columns]),
        "radiomics_clinical_xgb": booster.predict_proba(_xgb_design(x, rad, names, clinical, rows))[:, 1],
    }


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
    from sklearn.model_selection import StratifiedKFold

    train = np.flatnonzero(split == TRAINING)
    y = np.asarray(outcome, dtype=bool)
    iccs = feature_iccs(x[reader2_rows], reader2, names)
    robust = [n for n in names if np.isfinite(iccs[n]) and iccs[n] >= params.icc_threshold]
    if len(robust) < 2:
        raise ValueError(f"only {len(robust)} features reach ICC >= {params.icc_threshold}; check the masks")
    robust_idx = [names.index(n) for n in robust]
    xr = x[:, robust_idx]
    train_rows = [rows[int(i)] for i in train]
    rad, clinical, booster, xgb_params, trials = _fit_all(xr[train], y[train], train_rows, robust, params, None)
    scores = _predict(rad, clinical, booster, xr, rows, robust)

    n_folds = max(2, min(params.oof_folds, int(y[train].sum()), int((~y[train]).sum())))
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=params.seed).split(train, y[train])
    reference = np.flatnonzero(split == INTERNAL)
    reference_rows = [rows[int(i)] for i in reference]
    for fold_train, fold_test in folds:
        fit_idx, test_idx = train[fold_train], train[fold_test]
        fitted = _fit_all(xr[fit_idx], y[fit_idx], [rows[int(i)] for i in fit_idx], robust, params, xgb_params)
        fold_scores = _predict(*fitted[:3], xr[test_idx], [rows[int(i)] for i in test_idx], robust)
        fold_reference = _predict(*fitted[:3], xr[reference], reference_rows, robust) if reference.size else None
        for name in MODEL_NAMES:
            if fold_reference is None:
                scores[name][test_idx] = fold_scores[name]
            else:
                scores[name][test_idx] = align_to_reference(
                    fold_scores[name], fold_reference[name], scores[name][reference], _SCALES[name]
                )

    metrics: dict[str, dict[str, dict[str, float | int]]] = {name: {} for name in MODEL_NAMES}
    for name in MODEL_NAMES:
        for split_name in (TRAINING, INTERNAL, EXTERNAL):
            members = np.flatnonzero(split == split_name)
            if members.size:
                metrics[name][split_name] = auc_ci(y[members], scores[name][members]).as_dict()
    return FittedModels(
        robust,
        iccs,
        rad,
        clinical,
        booster,
        rad.features + clinical.encoder.columns,
        xgb_params,
        trials,
        scores,
        metrics,
    )
