"""The radiomics-model job (DVC stage ``radiomics_model``): ICC robustness, screening, Rad Score,
radiomics + clinical XGBoost and the clinical-only baseline on training rows; every row's scores and
the AUCs with 95 % CIs.

Settings come as the ``radiomics_model`` section of params.yaml (see that file for every key).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sonorisk import paths
from sonorisk.atomic_file import write_json, write_parquet
from sonorisk.cohort.split import TRAINING
from sonorisk.contracts.schema import CLINICAL_COLUMNS, ROW_KEY, row_key
from sonorisk.modelling.xgb import XgbGrid, XgbSearch
from sonorisk.radiomics.batch_shift import between_batch_psi
from sonorisk.radiomics.feature_table import META_COLUMNS
from sonorisk.radiomics.model_fit import Batches, FittedModels, ModelParams, RobustnessInputs, fit_radiomics_models
from sonorisk.radiomics.models import MODEL_NAMES, RadiomicsModels
from sonorisk.radiomics.screening import ScreeningParams

Key = tuple[str, str]


@dataclass(frozen=True)
class RadiomicsModelInputs:
    features: Path = paths.RADIOMICS_FEATURES
    reader2: Path = paths.READER2_FEATURES
    perturbed: Path = paths.PERTURBED_FEATURES
    split: Path = paths.SPLIT_FILE
    validated: Sequence[Path] = ()


@dataclass(frozen=True)
class RadiomicsModelOutputs:
    models: Path = paths.RADIOMICS_MODELS
    scores: Path = paths.RADIOMICS_SCORES
    metrics: Path = paths.RADIOMICS_METRICS
    screening: Path = paths.SCREENING_REPORT


@dataclass(frozen=True)
class RadiomicsModelSection:
    """The ``radiomics_model:`` section of params.yaml (flat, as the file writes it); ``model_params``
    nests it. Defaults are those of the parameter classes."""

    icc_threshold: float = ModelParams.icc_threshold
    mwu_p: float = ScreeningParams.mwu_p
    spearman_max: float = ScreeningParams.spearman_max
    lasso_folds: int = ScreeningParams.lasso_folds
    lasso_cs: int = ScreeningParams.lasso_cs
    oof_folds: int = ModelParams.oof_folds
    xgb_folds: int = XgbSearch.folds
    xgb_grid: XgbGrid = field(default_factory=XgbGrid)
    seed: int = ModelParams.seed
    harmonisation: str = ModelParams.harmonisation
    min_batch_rows: int = ModelParams.min_batch_rows
    combat_transform: str = ModelParams.combat_transform
    combat_covariates: tuple[str, ...] = ModelParams.combat_covariates

    def model_params(self) -> ModelParams:
        return ModelParams(
            icc_threshold=self.icc_threshold,
            oof_folds=self.oof_folds,
            screening=ScreeningParams(self.mwu_p, self.spearman_max, self.lasso_folds, self.lasso_cs, self.seed),
            xgb=XgbSearch(**asdict(self.xgb_grid), folds=self.xgb_folds, seed=self.seed),
            seed=self.seed,
            harmonisation=self.harmonisation,
            min_batch_rows=self.min_batch_rows,
            combat_transform=self.combat_transform,
            combat_covariates=self.combat_covariates,
        )


def _matrix(table: pa.Table, names: list[str]) -> np.ndarray:
    return np.column_stack([table.column(n).to_numpy(zero_copy_only=False).astype(np.float64) for n in names])


def _perturbed(table: pa.Table, names: list[str], position: dict[Key, int]) -> tuple[np.ndarray, np.ndarray, float]:
    """(cases, perturbations, features) values, the cases' rows and the screen's ICC threshold."""
    meta = json.loads((table.schema.metadata or {}).get(b"sonorisk.radiomics", b"{}"))
    threshold = float(meta.get("perturbation", {}).get("icc_threshold", 0.75))
    if table.num_rows == 0:
        return np.zeros((0, 0, len(names))), np.zeros(0, dtype=int), threshold
    keys = [row_key(r) for r in table.select(list(ROW_KEY)).to_pylist()]
    index = table.column("perturbation").to_pylist()
    cases = sorted(set(keys), key=lambda k: position[k])
    count = max(index) + 1
    values = np.full((len(cases), count, len(names)), np.nan)
    where = {k: i for i, k in enumerate(cases)}
    matrix = _matrix(table, names)
    for row, (key, k) in enumerate(zip(keys, index, strict=True)):
        values[where[key], k] = matrix[row]
    return values, np.array([position[k] for k in cases]), threshold


def run_radiomics_models(
    inputs: RadiomicsModelInputs,
    params: ModelParams,
    outputs: RadiomicsModelOutputs = RadiomicsModelOutputs(),
    log: Callable[[str], None] = print,
    batch_column: str | None = None,
) -> FittedModels:
    """Fit, save the model family, write every row's scores, the metrics and the screening report.
    ``batch_column`` (the study's) names each row's batch for ``harmonisation: combat``."""
    features = pq.read_table(inputs.features)
    second = pq.read_table(inputs.reader2)
    names = [c for c in features.column_names if c not in META_COLUMNS]
    keys = [row_key(r) for r in features.select(list(ROW_KEY)).to_pylist()]
    position = {k: i for i, k in enumerate(keys)}
    split_rows = {row_key(r): r for r in pq.read_table(inputs.split).to_pylist()}
    clinical: dict[Key, dict[str, Any]] = {}
    for cohort in inputs.validated:
        present = set(pq.read_schema(cohort).names)
        extra = [batch_column] if batch_column and batch_column not in CLINICAL_COLUMNS else []
        columns = [*ROW_KEY, *(c for c in (*CLINICAL_COLUMNS, *extra) if c in present)]
        clinical.update({row_key(r): r for r in pq.read_table(cohort, columns=columns).to_pylist()})

    perturbed, perturbed_rows, threshold = _perturbed(pq.read_table(inputs.perturbed), names, position)
    robustness = RobustnessInputs(
        reader2=_matrix(second, names) if second.num_rows else np.zeros((0, len(names))),
        reader2_rows=np.array([position[row_key(r)] for r in second.select(list(ROW_KEY)).to_pylist()], int),
        perturbed=perturbed,
        perturbed_rows=perturbed_rows,
        perturbation_threshold=threshold,
    )
    split = np.array([split_rows[k]["split"] for k in keys])
    outcome = np.array([bool(split_rows[k]["outcome"]) for k in keys])
    groups = [str(split_rows[k].get("person") or f"{k[0]}|{k[1]}") for k in keys]
    rows = [clinical[k] for k in keys]
    batches = None
    if batch_column:
        values = features.column(batch_column).to_pylist() if batch_column in features.column_names else None
        batches = Batches(batch_column, values or [row.get(batch_column) for row in rows])
    x = _matrix(features, names)
    fitted = fit_radiomics_models(x, names, robustness, rows, split, outcome, groups, params, batches)
    fitted.models.save(outputs.models)
    report = screening_report(fitted, names, params)
    if batches is not None:
        report["batches"] = _batch_shift(x, names, split, batches, fitted.models, params.harmonisation, rows)
    card = {  # what the bundle carries about how the radiomics features were chosen
        "robustness": report["robustness"],
        "robust_features": fitted.robust_features,
        "rad_score_features": fitted.models.features,
        "training_rows": int((split == TRAINING).sum()),
        "training_persons": len({g for g, s in zip(groups, split, strict=True) if s == TRAINING}),
    }
    write_json(outputs.models / "model_card.json", card, sort_keys=False)

    scores = {
        "cohort_id": [k[0] for k in keys],
        "patient_id": [k[1] for k in keys],
        "center": features.column("center"),
        "person": groups,
        "split": split.tolist(),
        "outcome": pa.array([split_rows[k]["outcome"] for k in keys], pa.bool_()),
        "score_kind": ["out_of_fold" if s == TRAINING else "fitted_on_training" for s in split],
    }
    scores |= {name: fitted.scores[name] for name in MODEL_NAMES}
    write_parquet(pa.table(scores), outputs.scores)
    # An image-only study's clinical model is a constant: no AUC to report (its file stays, unread).
    has_clinical = any(row.get(c) is not None for row in rows for c in CLINICAL_COLUMNS)
    reported = [n for n in MODEL_NAMES if has_clinical or n != "clinical_only"]
    write_json(outputs.metrics, {name: fitted.metrics[name] for name in reported})
    write_json(outputs.screening, report, sort_keys=False, default=float)
    for name in reported:
        line = ", ".join(
            f"{s} {m['auc']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]" for s, m in fitted.metrics[name].items()
        )
        log(f"{name}: {line}")
    if not has_clinical:
        log("clinical_only: not reported (the study records no clinical field)")
    return fitted


def _batch_shift(
    x: np.ndarray,
    names: list[str],
    split: np.ndarray,
    batches: Batches,
    models: RadiomicsModels,
    harmonisation: str,
    rows: list[dict[str, Any]],
) -> dict[str, Any]:
    """Between-batch PSI of the training rows on the features the models read, as extracted and as
    read; and which clinical fields ComBat protected."""
    train = np.flatnonzero(split == TRAINING)
    columns = x[train][:, [names.index(f) for f in models.features]]
    labels = batches.take(train).values
    harmoniser = models.harmoniser
    harmonised = harmoniser.apply(columns, labels, [rows[int(i)] for i in train])[0] if harmoniser else None
    shift = between_batch_psi(columns, labels, models.features, harmonised)
    protected = {"covariates": list(harmoniser.estimates.covariates)} if harmoniser is not None else {}
    return {"column": batches.column, "harmonisation": harmonisation} | protected | shift


def _median(values: dict[str, float]) -> float | None:
    finite = [v for v in values.values() if np.isfinite(v)]
    return float(np.median(finite)) if finite else None


def screening_report(fitted: FittedModels, names: list[str], params: ModelParams) -> dict[str, Any]:
    """What survived each screening step (the robustness screens first), the Rad Score and the
    XGBoost search."""
    rad = fitted.models.rad_score
    screens = fitted.screens
    both = sorted(set(screens.get("reader", [])) & set(screens.get("perturbation", [])))
    return {
        "robustness": {
            "features": len(names),
            "robust": len(fitted.robust_features),
            "screens": {
                name: {
                    "passed": len(passed),
                    "median_icc": _median(fitted.iccs if name == "reader" else fitted.perturbation_iccs),
                }
                for name, passed in screens.items()
            },
            "reader_threshold": params.icc_threshold if "reader" in screens else None,
            "method": (
                "image perturbation (Zwanenburg et al., Sci Rep 2019): ICC(1,1) across seeded perturbations "
                "of each training case (outline dilated/eroded, mask shifted, image rotated, noise added)"
                + ("; second reader: ICC(2,1) between the two readers' outlines" if "reader" in screens else "")
            ),
            "overlap_reader_and_perturbation": len(both) if len(screens) == 2 else None,
        },
        "screening_steps": {f"{name}_robust": passed for name, passed in screens.items()}
        | {"robust": fitted.robust_features}
        | rad.steps,
        "rad_score": {"features": rad.features, "coefficients": rad.coefficients, "lasso_c": rad.lasso_c},
        "xgb": {"best": fitted.models.xgb_params, "trials": fitted.xgb_trials},
    }
