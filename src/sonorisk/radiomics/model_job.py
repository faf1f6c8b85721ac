"""The radiomics-model job (DVC stage ``radiomics_model``): ICC robustness, screening, Rad Score,
radiomics + clinical XGBoost and the clinical-only baseline on training rows; every row's scores and
the AUCs with 95 % CIs.

Settings come as the ``radiomics_model`` section of params.yaml (see that file for every key).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sonorisk import paths
from sonorisk.atomic_file import write_json, write_parquet
from sonorisk.cohort.split import TRAINING
from sonorisk.contracts.schema import CLINICAL_COLUMNS
from sonorisk.modelling.xgb import XgbSearch
from sonorisk.radiomics.fanout import META_COLUMNS
from sonorisk.radiomics.model_fit import FittedModels, ModelParams, fit_radiomics_models
from sonorisk.radiomics.models import MODEL_NAMES
from sonorisk.radiomics.screening import ScreeningParams

Key = tuple[str, str]


@dataclass(frozen=True)
class RadiomicsModelInputs:
    features: Path = paths.RADIOMICS_FEATURES
    reader2: Path = paths.READER2_FEATURES
    split: Path = paths.SPLIT_FILE
    validated: Sequence[Path] = ()


@dataclass(frozen=True)
class RadiomicsModelOutputs:
    models: Path = paths.RADIOMICS_MODELS
    scores: Path = paths.RADIOMICS_SCORES
    metrics: Path = paths.RADIOMICS_METRICS
    screening: Path = paths.SCREENING_REPORT


def params_from_section(p: dict[str, Any]) -> ModelParams:
    """The ``radiomics_model`` section of params.yaml as typed parameters."""
    return ModelParams(
        icc_threshold=p["icc_threshold"],
        oof_folds=p["oof_folds"],
        screening=ScreeningParams(p["mwu_p"], p["spearman_max"], p["lasso_folds"], p["lasso_cs"], p["seed"]),
        xgb=XgbSearch(**{k: tuple(v) for k, v in p["xgb_grid"].items()}, folds=p["xgb_folds"], seed=p["seed"]),
        seed=p["seed"],
    )


def _key(row: dict[str, Any]) -> Key:
    return row["cohort_id"], row["patient_id"]


def _matrix(table: pa.Table, names: list[str]) -> np.ndarray:
    return np.column_stack([table.column(n).to_numpy(zero_copy_only=False).astype(np.float64) for n in names])


def run_radiomics_models(
    inputs: RadiomicsModelInputs,
    params: ModelParams,
    outputs: RadiomicsModelOutputs = RadiomicsModelOutputs(),
    log: Callable[[str], None] = print,
) -> FittedModels:
    """Fit, save the model family, write every row's scores, the metrics and the screening report."""
    features = pq.read_table(inputs.features)
    second = pq.read_table(inputs.reader2)
    names = [c for c in features.column_names if c not in META_COLUMNS]
    keys = [_key(r) for r in features.select(["cohort_id", "patient_id"]).to_pylist()]
    position = {k: i for i, k in enumerate(keys)}
    split_rows = {_key(r): r for r in pq.read_table(inputs.split).to_pylist()}
    clinical: dict[Key, dict[str, Any]] = {}
    for cohort in inputs.validated:
        columns = ["cohort_id", "patient_id", *CLINICAL_COLUMNS]
        clinical.update({_key(r): r for r in pq.read_table(cohort, columns=columns).to_pylist()})

    x2_rows = np.array([position[_key(r)] for r in second.select(["cohort_id", "patient_id"]).to_pylist()])
    split = np.array([split_rows[k]["split"] for k in keys])
    outcome = np.array([bool(split_rows[k]["outcome"]) for k in keys])
    fitted = fit_radiomics_models(
        _matrix(features, names),
        names,
        _matrix(second, names),
        x2_rows,
        [clinical[k] for k in keys],
        split,
        outcome,
        params,
    )
    fitted.models.save(outputs.models)

    scores = {
        "cohort_id": [k[0] for k in keys],
        "patient_id": [k[1] for k in keys],
        "center": features.column("center"),
        "split": split.tolist(),
        "outcome": pa.array([split_rows[k]["outcome"] for k in keys], pa.bool_()),
        "score_kind": ["out_of_fold" if s == TRAINING else "fitted_on_training" for s in split],
    }
    scores |= {name: fitted.scores[name] for name in MODEL_NAMES}
    write_parquet(pa.table(scores), outputs.scores)
    write_json(outputs.metrics, fitted.metrics)
    write_json(outputs.screening, screening_report(fitted, names, params), sort_keys=False, default=float)
    for name in MODEL_NAMES:
        line = ", ".join(
            f"{s} {m['auc']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]" for s, m in fitted.metrics[name].items()
        )
        log(f"{name}: {line}")
    return fitted


def screening_report(fitted: FittedModels, names: list[str], params: ModelParams) -> dict[str, Any]:
    """What survived each screening step, the Rad Score and the XGBoost search."""
    finite = [v for v in fitted.iccs.values() if np.isfinite(v)]
    rad = fitted.models.rad_score
    return {
        "icc": {
            "threshold": params.icc_threshold,
            "features": len(names),
            "robust": len(fitted.robust_features),
            "median_icc": float(np.median(finite)) if finite else None,
        },
        "screening_steps": {"icc_robust": fitted.robust_features} | rad.steps,
        "rad_score": {"features": rad.features, "coefficients": rad.coefficients, "lasso_c": rad.lasso_c},
        "xgb": {"best": fitted.models.xgb_params, "trials": fitted.xgb_trials},
    }
