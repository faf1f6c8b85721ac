"""DVC stage `radiomics_model`: ICC robustness, screening, Rad Score, radiomics + clinical XGBoost and
the clinical-only baseline, fitted on training rows only; scores and AUCs with 95 % CIs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.params import stage_params
from sonorisk.cohort.schema import CLINICAL_COLUMNS
from sonorisk.radiomics import xgb_model
from sonorisk.radiomics.fanout import META_COLUMNS
from sonorisk.radiomics.model_fit import MODEL_NAMES, ModelParams, fit_radiomics_models
from sonorisk.radiomics.screening import ScreeningParams


def _key(row: dict) -> tuple[str, str]:
    return row["cohort_id"], row["patient_id"]


def main() -> None:
    p = stage_params("radiomics_model")
    params = ModelParams(
        icc_threshold=p["icc_threshold"],
        oof_folds=p["oof_folds"],
        screening=ScreeningParams(p["mwu_p"], p["spearman_max"], p["lasso_folds"], p["lasso_cs"], p["seed"]),
        xgb=xgb_model.XgbSearch(
            **{k: tuple(v) for k, v in p["xgb_grid"].items()}, folds=p["xgb_folds"], seed=p["seed"]
        ),
        seed=p["seed"],
    )
    features = pq.read_table("data/features/radiomics.parquet")
    second = pq.read_table("data/features/radiomics_reader2.parquet")
    names = [c for c in features.column_names if c not in META_COLUMNS]
    keys = [_key(r) for r in features.select(["cohort_id", "patient_id"]).to_pylist()]
    position = {k: i for i, k in enumerate(keys)}
    split_rows = {_key(r): r for r in pq.read_table("data/splits/split.parquet").to_pylist()}
    clinical = {}
    for cohort in sorted(Path("data/validated").glob("*.parquet")):
        columns = ["cohort_id", "patient_id", *CLINICAL_COLUMNS]
        clinical.update({_key(r): r for r in pq.read_table(cohort, columns=columns).to_pylist()})

    x = np.column_stack([features.column(n).to_numpy(zero_copy_only=False).astype(np.float64) for n in names])
    x2 = np.column_stack([second.column(n).to_numpy(zero_copy_only=False).astype(np.float64) for n in names])
    x2_rows = np.array([position[_key(r)] for r in second.select(["cohort_id", "patient_id"]).to_pylist()])
    split = np.array([split_rows[k]["split"] for k in keys])
    outcome = np.array([bool(split_rows[k]["outcome"]) for k in keys])
    fitted = fit_radiomics_models(x, names, x2, x2_rows, [clinical[k] for k in keys], split, outcome, params)

    models = Path("models/radiomics")
    models.mkdir(parents=True, exist_ok=True)
    (models / "rad_score.json").write_text(fitted.rad_score.to_json() + "\n")
    (models / "clinical_logistic.json").write_text(fitted.clinical.to_json() + "\n")
    xgb_model.save(
        fitted.xgb,
        models / "radiomics_clinical_xgb.ubj",
        fitted.xgb_columns,
        {"rad_features": fitted.rad_score.features},
    )

    scores = {
        "cohort_id": [k[0] for k in keys],
        "patient_id": [k[1] for k in keys],
        "center": features.column("center"),
        "split": split.tolist(),
        "outcome": pa.array([split_rows[k]["outcome"] for k in keys], pa.bool_()),
        "score_kind": ["out_of_fold" if s == "training" else "fitted_on_training" for s in split],
    }
    scores |= {name: fitted.scores[name] for name in MODEL_NAMES}
    Path("data/scores").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(scores), "data/scores/radiomics.parquet", compression="zstd")

    Path("reports/metrics").mkdir(parents=True, exist_ok=True)
    Path("reports/metrics/radiomics.json").write_text(json.dumps(fitted.metrics, indent=2, sort_keys=True) + "\n")
    finite = [v for v in fitted.iccs.values() if np.isfinite(v)]
    report = {
        "icc": {
            "threshold": params.icc_threshold,
            "features": len(names),
            "robust": len(fitted.robust_features),
            "median_icc": float(np.median(finite)) if finite else None,
        },
        "screening_steps": {"icc_robust": fitted.robust_features} | fitted.rad_score.steps,
        "rad_score": {
            "features": fitted.rad_score.features,
            "coefficients": fitted.rad_score.coefficients,
            "lasso_c": fitted.rad_score.lasso_c,
        },
        "xgb": {"best": fitted.xgb_params, "trials": fitted.xgb_trials},
    }
    Path("reports/radiomics").mkdir(parents=True, exist_ok=True)
    Path("reports/radiomics/screening.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    for name in MODEL_NAMES:
        line = ", ".join(
            f"{s} {m['auc']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]" for s, m in fitted.metrics[name].items()
        )
        print(f"{name}: {line}")


if __name__ == "__main__":
    main()
