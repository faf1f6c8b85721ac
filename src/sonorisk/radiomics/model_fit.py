"""Fit the radiomics-stage models on training rows only and score every row.

Models: the clinical-only logistic baseline, the LASSO **Rad Score**, and the radiomics + clinical
XGBoost (``radiomics/models.py``). Training rows get *out-of-fold* scores (each from models fitted
without that patient, the whole screening re-run inside each fold), which fusion needs; every other
row is scored by the models fitted on all training rows. Internal-validation and external rows never
enter a fit nor any choice: they are scored afterwards, to report. Each fold model's scores are put
on the final model's scale by what both models read on the training rows (``modelling/oof.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sonorisk.cohort.split import EXTERNAL, INTERNAL, TRAINING
from sonorisk.contracts.schema import CLINICAL_COLUMNS
from sonorisk.gates import StudyError
from sonorisk.modelling import xgb
from sonorisk.modelling.clinical_model import ClinicalLogistic
from sonorisk.modelling.folds import stratified_folds
from sonorisk.modelling.oof import auc_by_split, out_of_fold
from sonorisk.radiomics.harmonisation import METHODS, TRANSFORMS, FeatureHarmoniser
from sonorisk.radiomics.models import MODEL_NAMES, SCALES, RadiomicsModels
from sonorisk.radiomics.perturbation import perturbation_iccs
from sonorisk.radiomics.robustness import feature_iccs
from sonorisk.radiomics.screening import ScreeningParams, fit_rad_score


@dataclass(frozen=True)
class ModelParams:
    icc_threshold: float = 0.75
    oof_folds: int = 10
    screening: ScreeningParams = field(default_factory=ScreeningParams)
    xgb: xgb.XgbSearch = field(default_factory=xgb.XgbSearch)
    seed: int = 0
    harmonisation: str = "none"  # or "combat": fitted with every model, on that model's rows only
    min_batch_rows: int = 20  # scoring: an unseen batch is estimated from a run once it has this many rows
    combat_transform: str = "normalise"  # or "none": features put through stats/normalising.py around ComBat
    combat_covariates: tuple[str, ...] = ()  # clinical fields whose effect on the features ComBat keeps


@dataclass(frozen=True)
class Batches:
    """Each row's batch (scanner, centre) and the column it came from, for harmonisation."""

    column: str
    values: Sequence[Any]

    def take(self, members: np.ndarray) -> Batches:
        return Batches(self.column, [self.values[int(i)] for i in members])


@dataclass(frozen=True)
class RobustnessInputs:
    """What the robustness screens read: the second reader's features of some training cases (none
    for most real cohorts), and every training case's features under each perturbation."""

    reader2: np.ndarray  # (m, features)
    reader2_rows: np.ndarray  # indices into the feature matrix of those m cases
    perturbed: np.ndarray  # (cases, perturbations, features); zero cases: no perturbation screen
    perturbed_rows: np.ndarray  # indices into the feature matrix of those cases
    perturbation_threshold: float = 0.75


@dataclass
class FittedModels:
    robust_features: list[str]
    iccs: dict[str, float]  # second reader (empty without one)
    perturbation_iccs: dict[str, float]
    screens: dict[str, list[str]]  # screen name -> features that passed it
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
    groups: Sequence[str],
    batches: Batches | None = None,
) -> tuple[RadiomicsModels, list[dict[str, Any]]]:
    """Screening + Rad Score, clinical baseline and XGBoost on these rows (grid searched when
    ``xgb_params`` is None, as for the final models; the fold models reuse the final grid point).
    Every CV inside keeps the persons of ``groups`` whole. With ``batches`` the features are
    harmonised first, by ComBat estimated from these rows alone."""
    harmoniser = None
    if batches is not None:
        harmoniser = FeatureHarmoniser.fit(
            x,
            batches.values,
            names,
            batches.column,
            params.min_batch_rows,
            params.combat_transform,
            params.combat_covariates,
            rows,
        )
        x = harmoniser.apply(x, batches.values, rows)[0]
    rad = fit_rad_score(x, y, names, params.screening, groups)
    clinical = ClinicalLogistic.fit(rows, y.tolist())
    models = RadiomicsModels(rad, clinical, booster=None)
    models.harmoniser = harmoniser.narrowed(rad.features) if harmoniser is not None else None
    design = models.xgb_design(_columns(x, names, rad.features), rows)
    trials: list[dict[str, Any]] = []
    if xgb_params is None:
        folds = stratified_folds(y, params.xgb.folds, params.xgb.seed, groups)
        grid = xgb.grid_search(design, y, xgb.parameter_grid(params.xgb), folds, params.xgb.seed, "probability")
        trials = [t.params | {"cv_auc": t.cv_auc} for t in grid]
        xgb_params = xgb.best_trial(grid).params
    models.booster = xgb.classifier(xgb_params, params.seed).fit(design, y)
    models.xgb_params = xgb_params
    return models, trials


def _columns(x: np.ndarray, names: list[str], wanted: list[str]) -> np.ndarray:
    return x[:, [names.index(f) for f in wanted]] if wanted else np.zeros((x.shape[0], 0))


def _predict(
    models: RadiomicsModels, x: np.ndarray, rows: Sequence[Mapping], names: list[str], batches: Batches | None
) -> dict[str, np.ndarray]:
    return models.predict(_columns(x, names, models.features), rows, batches.values if batches else None)


def robust_features(
    x: np.ndarray, names: list[str], robustness: RobustnessInputs, reader_threshold: float
) -> tuple[list[str], dict[str, float], dict[str, float], dict[str, list[str]]]:
    """Features that pass every screen the data allow: perturbation ICC(1,1) (when there are
    perturbed cases) and reader ICC(2,1) (when a second reader outlined some cases).

    Raises:
        StudyError: fewer than two features pass.
    """
    screens: dict[str, list[str]] = {}
    reader: dict[str, float] = {}
    perturbed: dict[str, float] = {}
    if robustness.reader2_rows.size:
        reader = feature_iccs(x[robustness.reader2_rows], robustness.reader2, names)
        screens["reader"] = [n for n in names if np.isfinite(reader[n]) and reader[n] >= reader_threshold]
    if robustness.perturbed_rows.size:
        values = perturbation_iccs(robustness.perturbed)
        perturbed = dict(zip(names, (float(v) for v in values), strict=True))
        threshold = robustness.perturbation_threshold
        screens["perturbation"] = [n for n in names if np.isfinite(perturbed[n]) and perturbed[n] >= threshold]
    if not screens:
        raise StudyError("no robustness screen could run: no perturbed training cases and no second reader")
    kept = [n for n in names if all(n in passed for passed in (set(s) for s in screens.values()))]
    if len(kept) < 2:
        counts = ", ".join(f"{k} {len(v)}" for k, v in screens.items())
        raise StudyError(f"only {len(kept)} features pass the robustness screens ({counts} of {len(names)})")
    return kept, reader, perturbed, screens


def fit_radiomics_models(
    x: np.ndarray,
    names: list[str],
    robustness: RobustnessInputs,
    rows: Sequence[Mapping[str, Any]],
    split: np.ndarray,
    outcome: np.ndarray,
    groups: Sequence[str],
    params: ModelParams,
    batches: Batches | None = None,
) -> FittedModels:
    """Fit on ``split == training`` rows; score all rows; AUC with 95 % CI per model and split.

    Args:
        x: (rows, features) reader-1 radiomics, NaN where extraction failed.
        names: feature names (columns of ``x``).
        robustness: the second reader's and the perturbed features of training cases.
        rows: clinical fields per row (dicts).
        split: split name per row.
        outcome: outcome per row (ignored outside labelled splits).
        groups: the person of each row; every CV and out-of-fold split keeps persons whole.
        params: thresholds, folds and seeds; ``harmonisation: combat`` needs ``batches``.
        batches: each row's batch (scanner, centre): ComBat is fitted with every model on that
            model's own training rows (each fold's, for the out-of-fold scores).

    Raises:
        StudyError: too few robust features, or ``combat`` without batches.
    """
    if params.harmonisation not in METHODS:
        raise StudyError(
            f"radiomics_model.harmonisation must be one of {', '.join(METHODS)}, not {params.harmonisation!r}"
        )
    if params.harmonisation == "combat" and batches is None:
        raise StudyError(
            "radiomics_model.harmonisation: combat needs study.batch_column (the scanner or centre column)"
        )
    if params.combat_transform not in TRANSFORMS:
        raise StudyError(
            f"radiomics_model.combat_transform must be one of {', '.join(TRANSFORMS)}, not {params.combat_transform!r}"
        )
    unknown = [c for c in params.combat_covariates if c not in CLINICAL_COLUMNS]
    if unknown:
        raise StudyError(
            f"radiomics_model.combat_covariates names {unknown[0]!r}, not a clinical field "
            f"({', '.join(CLINICAL_COLUMNS)})"
        )
    # A covariate no row records (a cohort without clinical fields) cannot be protected: left out,
    # and the screening report says which were.
    params = replace(
        params,
        combat_covariates=tuple(c for c in params.combat_covariates if any(row.get(c) is not None for row in rows)),
    )
    use = batches if params.harmonisation == "combat" else None

    def batch_of(members: np.ndarray) -> Batches | None:
        return use.take(members) if use is not None else None

    train = np.flatnonzero(split == TRAINING)
    y = np.asarray(outcome, dtype=bool)
    robust, iccs, perturbed, screens = robust_features(x, names, robustness, params.icc_threshold)
    xr = x[:, [names.index(n) for n in robust]]

    def persons(members: np.ndarray) -> list[str]:
        return [groups[int(i)] for i in members]

    models, trials = _fit_all(
        xr[train], y[train], [rows[int(i)] for i in train], robust, params, None, persons(train), batch_of(train)
    )
    # Rows outside training: a batch training never saw (an external centre's scanner) is estimated
    # from its own rows, as nightly scoring does for a run; the saved family keeps the training
    # estimates only. No outcome is read.
    outside = np.flatnonzero(split != TRAINING)
    scoring = (
        models.for_rows(
            _columns(xr, robust, models.features)[outside],
            use.take(outside).values,
            [rows[int(i)] for i in outside],
        )
        if use
        else models
    )
    scores = _predict(scoring, xr, rows, robust, use)
    # The scale every fold model is aligned to: the training rows, which both it and the final model
    # score (an internal-validation row read here would no longer be an independent check).
    reference = train

    def score_fold(
        _fold: int, fit: np.ndarray, held: np.ndarray, ref: np.ndarray
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        fold_models, _ = _fit_all(
            xr[fit], y[fit], [rows[int(i)] for i in fit], robust, params, models.xgb_params, persons(fit), batch_of(fit)
        )
        held_scores = _predict(fold_models, xr[held], [rows[int(i)] for i in held], robust, batch_of(held))
        ref_scores = (
            _predict(fold_models, xr[ref], [rows[int(i)] for i in ref], robust, batch_of(ref)) if ref.size else {}
        )
        return held_scores, ref_scores

    final_reference = {name: scores[name][reference] for name in MODEL_NAMES}
    oof = out_of_fold(
        train, y, reference, final_reference, SCALES, score_fold, params.oof_folds, params.seed, persons(train)
    )
    for name in MODEL_NAMES:
        scores[name][train] = oof[name][train]

    metrics = {name: auc_by_split(y, scores[name], split, (TRAINING, INTERNAL, EXTERNAL)) for name in MODEL_NAMES}
    return FittedModels(robust, iccs, perturbed, screens, models, trials, scores, metrics)
