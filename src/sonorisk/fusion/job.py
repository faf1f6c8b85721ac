"""The fusion job, shared by the DVC stage and ``sonorisk fusion``: read score tables, fit on the
training split, write the model and one score table with every model's score per patient."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sonorisk.atomic_file import write_json, write_parquet
from sonorisk.fusion.fit import FusionFit, FusionParams, fit_fusion
from sonorisk.fusion.model import FusionModel
from sonorisk.fusion.score_table import (
    FUSION,
    assemble_scores,
    clinical_rows,
    fused_table,
    probabilities,
    read_clinical,
    score_columns,
    training_thresholds,
)


@dataclass(frozen=True)
class FusionInputs:
    radiomics_scores: Path
    dl_scores: Path
    dl_oof: Path
    validated: Sequence[Path]


def run_fusion(inputs: FusionInputs, params: FusionParams, model_dir: Path, scores_out: Path) -> dict[str, Any]:
    """Fit, save, score every patient; returns a summary (model kind, CV results, counts)."""
    for path in (inputs.radiomics_scores, inputs.dl_scores, inputs.dl_oof, *inputs.validated):
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist")
    table = assemble_scores(
        pl.read_parquet(inputs.radiomics_scores),
        pl.read_parquet(inputs.dl_scores),
        pl.read_parquet(inputs.dl_oof),
        read_clinical(inputs.validated),
    )
    training = (table["split"] == "training").to_numpy()
    train = table.filter(pl.Series(training))
    fitted: FusionFit = fit_fusion(
        clinical_rows(train),
        score_columns(train, list(params.score_inputs)),
        train["outcome"].to_numpy().astype(bool),
        params,
        train["person"].to_list() if "person" in train.columns else None,
    )
    model = fitted.model
    files = model.save(model_dir)
    files.append(_save_single_source_thresholds(train, model, model_dir))

    raw = model.decision_function(clinical_rows(table), score_columns(table, model.score_inputs))
    raw[training] = fitted.oof_raw  # training patients: out-of-fold, like every other score they carry
    out = fused_table(table, model, raw)
    write_parquet(out, scores_out)
    return {
        "kind": model.kind,
        "selection": model.selection,
        "thresholds": model.thresholds,
        "calibration": model.calibrator.method,
        "trials": fitted.trials,
        "files": [str(f) for f in files],
        "patients": out.height,
        "imputed_scores": int(sum(n is not None for n in out["fusion_note"].to_list())),
    }


THRESHOLDS_FILE = "single_source_thresholds.json"


def _save_single_source_thresholds(train: pl.DataFrame, model: FusionModel, model_dir: Path) -> Path:
    """Each model's Youden threshold on training (out-of-fold) probabilities, kept with the fusion
    model so frozen-model evaluations of new cohorts use exactly these."""
    scored = train.with_columns(pl.lit(0.0).alias(FUSION))  # fusion's own threshold comes from the model
    probs = probabilities(scored)
    y = train["outcome"].to_numpy().astype(bool)
    thresholds = training_thresholds(y, probs, np.ones(y.size, bool), model.thresholds["youden"])
    return write_json(model_dir / THRESHOLDS_FILE, thresholds)


def write_summary(summary: dict[str, Any], path: Path) -> Path:
    """The fusion selection report (model kind, every CV trial, calibration, thresholds)."""
    return write_json(path, summary, default=float)


def summary_line(summary: dict[str, Any]) -> str:
    """One line for the terminal: the chosen model, its CV AUC, calibration and thresholds."""
    best = summary["selection"]["best"]
    chosen = ", ".join(f"{k}={v}" for k, v in best.items() if k not in ("kind", "cv_auc"))
    return (
        f"fusion: {summary['kind']} ({chosen}), CV AUC {summary['selection']['best_cv_auc']:.3f}; "
        f"calibration {summary['calibration']}; thresholds "
        + ", ".join(f"{k} {v:.3f}" for k, v in summary["thresholds"].items())
    )
