"""The score table: one row per patient with every model's score, the split and the outcome, as the
fusion stage writes it (``data/scores/fusion.parquet``) and ``sonorisk external-scores`` and nightly
scoring build it from frozen models; evaluation reads it.

Which models it holds and on which scale each score lives are named here (``MODELS``) for everyone.

Training patients carry only out-of-fold scores (Rad Score, the XGBoost and clinical models from the
radiomics stage, DL Score from the k-fold DL models); a training patient without an out-of-fold DL
Score gets null, never the in-sample score of the model trained on them. Other patients carry the
scores of the models fitted on all training patients.

Example:
    >>> import polars as pl
    >>> key = {"cohort_id": ["c", "c"], "patient_id": ["p1", "p2"]}
    >>> rad = pl.DataFrame(key | {"center": ["A", "B"], "split": ["training", "external"],
    ...     "outcome": [True, False], "clinical_only": [0.1, 0.2], "rad_score": [0.3, 0.4],
    ...     "radiomics_clinical_xgb": [0.5, 0.6]})
    >>> dl = pl.DataFrame(key | {"dl_score": [0.9, 0.7]})
    >>> oof = pl.DataFrame({"cohort_id": ["c"], "patient_id": ["p1"], "dl_score_oof": [0.2]})
    >>> clinical = pl.DataFrame(key | {"age": [50, 60]})
    >>> assemble_scores(rad, dl, oof, clinical)["dl_score"].to_list()
    [0.2, 0.7]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sonorisk.contracts.schema import CLINICAL_COLUMNS, ROW_KEY
from sonorisk.fusion.model import FusionModel
from sonorisk.stats.classification import youden_threshold

KEY = list(ROW_KEY)  # as polars and pyarrow take column lists
SINGLE_SOURCE = ("clinical_only", "rad_score", "radiomics_clinical_xgb", "dl_score")
FUSION = "fusion_risk"
TABLE_COLUMNS = [*KEY, "center", "split", "outcome", "score_kind", *SINGLE_SOURCE]


@dataclass(frozen=True)
class ModelSpec:
    column: str
    label: str
    scale: str  # "logit" or "probability"


MODELS = (
    ModelSpec("clinical_only", "Clinical model", "logit"),
    ModelSpec("rad_score", "Rad Score", "logit"),
    ModelSpec("radiomics_clinical_xgb", "Radiomics + clinical XGBoost", "probability"),
    ModelSpec("dl_score", "DL Score", "probability"),
    ModelSpec(FUSION, "Fusion (clinical + radiomics + DL)", "probability"),
)


def assemble_scores(
    radiomics_scores: pl.DataFrame, dl_scores: pl.DataFrame, dl_oof: pl.DataFrame, clinical: pl.DataFrame
) -> pl.DataFrame:
    """Join on (cohort_id, patient_id); the row set is the radiomics score table's (every scored row)."""
    missing = [c for c in ("split", "outcome", *SINGLE_SOURCE[:3]) if c not in radiomics_scores.columns]
    if missing:
        raise ValueError(f"radiomics score table lacks {missing}: re-run the radiomics_model stage")
    training = pl.col("split") == "training"
    table = (
        radiomics_scores.join(dl_scores.select([*KEY, "dl_score"]), on=KEY, how="left")
        .join(dl_oof.select([*KEY, "dl_score_oof"]), on=KEY, how="left")
        .with_columns(pl.when(training).then(pl.col("dl_score_oof")).otherwise(pl.col("dl_score")).alias("dl_score"))
        .drop("dl_score_oof")
        .join(clinical, on=KEY, how="left", suffix="_clinical")
    )
    if table.height != radiomics_scores.height:
        raise ValueError("duplicate (cohort_id, patient_id) keys among the score tables")
    return table.sort(KEY)


def read_clinical(validated: Sequence[Path]) -> pl.DataFrame:
    """Key + clinical fields of every validated cohort (the columns a cohort has; others null)."""
    frames = []
    for path in validated:
        present = set(pl.read_parquet_schema(path))
        wanted = [c for c in (*KEY, *CLINICAL_COLUMNS) if c in present]
        frames.append(pl.read_parquet(path, columns=wanted))
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def clinical_rows(table: pl.DataFrame) -> list[dict[str, Any]]:
    """The clinical fields of each row, as the models read them."""
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


def fused_table(table: pl.DataFrame, model: FusionModel, raw: np.ndarray) -> pl.DataFrame:
    """The score table: ``table``'s identity, split, outcome and single-source scores, then the
    fusion model's raw score, calibrated risk, risk group and a note on imputed inputs."""
    risk = model.calibrator.predict_proba(raw)
    return table.select(TABLE_COLUMNS).with_columns(
        pl.Series("fusion_raw", raw),
        pl.Series("fusion_risk", risk),
        pl.Series("risk_group", model.risk_group(risk)),
        pl.Series("fusion_note", fusion_notes(table, model.score_inputs), dtype=pl.String),
    )


def probabilities(table: pl.DataFrame) -> dict[str, np.ndarray]:
    """Every model's score as a probability (NaN where the score is missing)."""
    out = {}
    for spec in MODELS:
        values = table[spec.column].cast(pl.Float64).fill_null(float("nan")).to_numpy()
        out[spec.column] = 1.0 / (1.0 + np.exp(-values)) if spec.scale == "logit" else values
    return out


def training_thresholds(
    y: np.ndarray, probs: Mapping[str, np.ndarray], training: np.ndarray, fusion_threshold: float
) -> dict[str, float]:
    """Youden thresholds on training (out-of-fold) probabilities; fusion's from its model file."""
    thresholds = {}
    for name, p in probs.items():
        if name == FUSION:
            thresholds[name] = fusion_threshold
        else:
            ok = training & np.isfinite(p)
            thresholds[name] = youden_threshold(y[ok], p[ok])
    return thresholds
