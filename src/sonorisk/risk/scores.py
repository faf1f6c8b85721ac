"""Every model's score for a cohort the models never saw, from frozen model files.

Composes the frozen radiomics-stage models (clinical-only, Rad Score, XGBoost; applied to the
cohort's radiomics features), the DL Scores (``sonorisk dl-score``) and the fusion model into one
table with the same columns as the fusion stage's ``data/scores/fusion.parquet``, so the same
evaluation runs on it. Rows are the validated rows; a row whose radiomics extraction or DL crop
failed keeps null for that score and the fusion note says which training median stood in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from sonorisk.cohort.schema import CLINICAL_COLUMNS
from sonorisk.fusion.job import fusion_notes, score_columns
from sonorisk.fusion.model import FusionModel
from sonorisk.radiomics.apply import score_frozen_radiomics_models

KEY = ["cohort_id", "patient_id"]


def frozen_scores(
    validated: pl.DataFrame,
    features: pa.Table,
    dl_scores: pl.DataFrame,
    radiomics_models: Path,
    fusion_model: Path,
    outcome_column: str = "brain_metastasis",
) -> pl.DataFrame:
    """One row per validated row: single-source scores, fusion risk and group, split = 'external'."""
    base = validated.select([c for c in (*KEY, "center", outcome_column, *CLINICAL_COLUMNS) if c in validated.columns])
    feature_keys = pl.from_arrow(features.select(KEY))
    assert isinstance(feature_keys, pl.DataFrame)
    position = feature_keys.with_row_index("_feature_row")
    ordered = base.join(position, on=KEY, how="left")
    if ordered["_feature_row"].null_count():
        missing = ordered.filter(pl.col("_feature_row").is_null())["patient_id"].head(3).to_list()
        raise ValueError(
            f"the feature table lacks {ordered['_feature_row'].null_count()} validated rows (e.g. {missing})"
        )
    ordered_features = features.take(pa.array(ordered["_feature_row"].to_numpy()))
    status = ordered_features.column("status").to_pylist() if "status" in features.column_names else None
    clinical_rows = ordered.select([c for c in CLINICAL_COLUMNS if c in ordered.columns]).to_dicts()
    single = score_frozen_radiomics_models(radiomics_models, ordered_features, clinical_rows)
    failed = np.array([s != "ok" for s in status]) if status is not None else np.zeros(ordered.height, bool)
    rad = np.where(failed, np.nan, single["rad_score"])  # a failed extraction has no Rad Score

    table = (
        ordered.drop("_feature_row")
        .with_columns(
            pl.Series("clinical_only", single["clinical_only"]),
            pl.Series("rad_score", rad).fill_nan(None),
            pl.Series("radiomics_clinical_xgb", single["radiomics_clinical_xgb"]),
        )
        .join(dl_scores.select([*KEY, "dl_score"]), on=KEY, how="left")
    )
    model = FusionModel.load(fusion_model)
    z = model.design(clinical_rows, score_columns(table, model.score_inputs))
    raw = model.raw_from_design(z)
    risk = model.calibrator.apply(raw)
    outcome = table[outcome_column].cast(pl.Boolean) if outcome_column in table.columns else None
    return table.select([*KEY, "center"]).with_columns(
        pl.lit("external").alias("split"),
        (outcome if outcome is not None else pl.lit(None, pl.Boolean)).alias("outcome"),
        pl.lit("frozen_model").alias("score_kind"),
        table["clinical_only"],
        table["rad_score"],
        table["radiomics_clinical_xgb"],
        table["dl_score"],
        pl.Series("fusion_raw", raw),
        pl.Series("fusion_risk", risk),
        pl.Series("risk_group", model.risk_group(risk)),
        pl.Series("fusion_note", fusion_notes(table, model.score_inputs), dtype=pl.String),
    )
