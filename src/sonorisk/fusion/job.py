"""The fusion job, shared by the DVC stage and ``sonorisk fusion``: read score tables, fit on the
training split, write the model and one score table with every model's score per patient."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sonorisk.cohort.schema import CLINICAL_COLUMNS
from sonorisk.fusion.fit import FusionFit, FusionParams, fit_fusion
from sonorisk.fusion.inputs import KEY, assemble_scores
from sonorisk.fusion.model import FusionModel


@dataclass(frozen=True)
class FusionInputs:
    radiomics_scores: Path
    dl_scores: Path
    dl_oof: Path
    validated: Sequence[Path]


def read_clinical(validated: Sequence[Path]) -> pl.DataFrame:
    """Key + clinical fields of every validated cohort (the columns a cohort has; others null)."""
    frames = []
    for path in validated:
        present = set(pl.read_parquet_schema(path))
        wanted = [c for c in (*KEY, *CLINICAL_COLUMNS) if c in present]
        frames.append(pl.read_parquet(path, columns=wanted))
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def _clinical_rows(table: pl.DataFrame) -> list[dict[str, Any]]:
    return table.select([c for c in CLINICAL_COLUMNS if c in table.columns]).to_dicts()


def score_columns(table: pl.DataFrame, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Score-table columns as float arrays, null -> NaN (the fusion model fills NaN)."""
    return {n: table[n].cast(pl.Float64).fill_null(float("nan")).to_numpy() for n in names}


def fusion_notes(table: pl.DataFrame, names: Sequence[str]) -> list[str | None]:
    """Per row, which fusion input was missing (and so filled with the training median)."""
    columns = score_columns(table, names)
    notes = []
    for i in range(table.height):
        missing = [n for n in names if np.isnan(columns[n][i])]
        notes.append(f"{' and '.join(missing)} missing: training median used" if missing else None)
    return notes


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
    inputs_used = list(params.score_inputs)
    fitted: FusionFit = fit_fusion(
        _clinical_rows(train),
        score_columns(train, inputs_used),
        train["outcome"].to_numpy().astype(bool),
        params,
    )
    model = fitted.model
    files = model.save(model_dir)
    files.append(_save_single_source_thresholds(train, model, model_dir))

    z = model.design(_clinical_rows(table), score_columns(table, inputs_used))
    raw = model.raw_from_design(z)
    raw[training] = fitted.oof_raw  # training patients: out-of-fold, like every other score they carry
    risk = model.calibrator.apply(raw)
    out = table.select(
        [
            *KEY,
            "center",
            "split",
            "outcome",
            "score_kind",
            "clinical_only",
            "rad_score",
            "radiomics_clinical_xgb",
            "dl_score",
        ]
    ).with_columns(
        pl.Series("fusion_raw", raw),
        pl.Series("fusion_risk", risk),
        pl.Series("risk_group", model.risk_group(risk)),
        pl.Series("fusion_note", fusion_notes(table, inputs_used), dtype=pl.String),
    )
    scores_out.parent.mkdir(parents=True, exist_ok=True)
    out.write_parquet(scores_out, compression="zstd")
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
    from sonorisk.evaluation.results import FUSION, probabilities, training_thresholds

    scored = train.with_columns(pl.lit(0.0).alias(FUSION))  # fusion's own threshold comes from the model
    probs = probabilities(scored)
    y = train["outcome"].to_numpy().astype(bool)
    thresholds = training_thresholds(y, probs, np.ones(y.size, bool), model.thresholds["youden"])
    path = model_dir / THRESHOLDS_FILE
    path.write_text(json.dumps(thresholds, indent=2, sort_keys=True) + "\n")
    return path


def params_from_section(section: dict[str, Any]) -> FusionParams:
    grid = section.get("xgb_grid", {})
    return FusionParams(
        cv_folds=int(section["cv_folds"]),
        logistic_cs=tuple(float(c) for c in section["logistic_cs"]),
        score_scales=tuple(float(s) for s in section.get("score_scales", (1.0,))),
        score_inputs=tuple(section.get("score_inputs", ("rad_score", "radiomics_clinical_xgb", "dl_score"))),
        xgb_max_depth=tuple(int(v) for v in grid.get("max_depth", (2,))),
        xgb_n_estimators=tuple(int(v) for v in grid.get("n_estimators", (100, 300))),
        xgb_learning_rate=tuple(float(v) for v in grid.get("learning_rate", (0.03, 0.1))),
        xgb_min_child_weight=tuple(float(v) for v in grid.get("min_child_weight", (1.0, 5.0))),
        calibration_folds=int(section["calibration_folds"]),
        min_sensitivity=float(section["min_sensitivity"]),
        seed=int(section["seed"]),
    )


def summary_json(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2, sort_keys=True, default=float) + "\n"
