"""Every model's score for a cohort the models never saw, from frozen models.

Composes the frozen radiomics-stage models (clinical-only, Rad Score, XGBoost; applied to the
cohort's radiomics features), the DL Scores (``sonorisk dl-score``) and the fusion model into one
table with the same columns as the fusion stage's ``data/scores/fusion.parquet``, so the same
evaluation runs on it. Rows are the validated rows; a row whose radiomics extraction or DL crop
failed keeps null for that score and the fusion note says which training median stood in.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from sonorisk.contracts.schema import CLINICAL_COLUMNS, table_keys
from sonorisk.fusion.model import FusionModel
from sonorisk.fusion.score_table import KEY, clinical_rows, fused_table, score_columns
from sonorisk.fusion.survival import SurvivalModel
from sonorisk.radiomics.models import RadiomicsModels


def frozen_scores(
    validated: pl.DataFrame,
    features: pa.Table,
    dl_scores: pl.DataFrame,
    radiomics: RadiomicsModels,
    fusion: FusionModel,
    outcome_column: str | None,
) -> pl.DataFrame:
    """One row per validated row: single-source scores, fusion risk and group, split = 'external';
    ``outcome`` is the study's outcome column where the cohort has it (null otherwise). Where the
    radiomics family harmonises features (give it as it scores these rows: ``feature_batches`` and
    ``RadiomicsModels.for_rows``), ``batch`` and ``harmonised`` say per row what was done."""
    harmoniser = radiomics.harmoniser
    batch_column = [harmoniser.batch_column] if harmoniser is not None else []
    wanted = (*KEY, "center", *([outcome_column] if outcome_column else []), *CLINICAL_COLUMNS, *batch_column)
    base = validated.select(list(dict.fromkeys(c for c in wanted if c in validated.columns)))
    feature_keys = pl.from_arrow(features.select(KEY))
    assert isinstance(feature_keys, pl.DataFrame)
    ordered = base.join(feature_keys.with_row_index("_feature_row"), on=KEY, how="left")
    if ordered["_feature_row"].null_count():
        missing = ordered.filter(pl.col("_feature_row").is_null())["patient_id"].head(3).to_list()
        raise ValueError(
            f"the feature table lacks {ordered['_feature_row'].null_count()} validated rows (e.g. {missing})"
        )
    ordered_features = features.take(pa.array(ordered["_feature_row"].to_numpy()))
    rows = clinical_rows(ordered)
    batches: list = []
    if harmoniser is not None:
        column = harmoniser.batch_column
        batches = ordered[column].cast(pl.String).to_list() if column in ordered.columns else [None] * ordered.height
    single = radiomics.predict_table(ordered_features, rows, batches or None)
    status = ordered_features.column("status").to_pylist() if "status" in features.column_names else None
    failed = np.array([s != "ok" for s in status]) if status is not None else np.zeros(ordered.height, bool)
    rad = np.where(failed, np.nan, single["rad_score"])  # a failed extraction has no Rad Score

    outcome = ordered[outcome_column].cast(pl.Boolean) if outcome_column in ordered.columns else None
    if harmoniser is not None:
        ordered = ordered.with_columns(
            pl.Series("batch", batches, dtype=pl.String),
            pl.Series("harmonised", harmoniser.known(batches), dtype=pl.Boolean),
        )
    table = (
        ordered.drop("_feature_row")
        .with_columns(
            pl.lit("external").alias("split"),
            (outcome if outcome is not None else pl.lit(None, pl.Boolean)).alias("outcome"),
            pl.lit("frozen_model").alias("score_kind"),
            pl.Series("clinical_only", single["clinical_only"]),
            pl.Series("rad_score", rad).fill_nan(None),
            pl.Series("radiomics_clinical_xgb", single["radiomics_clinical_xgb"]),
        )
        .join(dl_scores.select([*KEY, "dl_score"]), on=KEY, how="left")
    )
    fused = fused_table(table, fusion, fusion.decision_function(rows, score_columns(table, fusion.score_inputs)))
    # The score table keeps its own columns; what harmonisation did rides along, row for row.
    return fused.with_columns(table.select("batch", "harmonised")) if harmoniser is not None else fused


SURVIVAL_RISKS = {"risk_24m": 24, "risk_36m": 36}  # risk-table column -> horizon in months


def survival_risks(model: SurvivalModel | None, scores: pl.DataFrame, validated: pl.DataFrame) -> pl.DataFrame:
    """``scores`` with the survival fusion's absolute risk by 24 and 36 months (null columns without a
    survival model: a study without follow-up, or a bundle built before them)."""
    if model is None:
        return scores.with_columns(pl.lit(None, pl.Float64).alias(c) for c in SURVIVAL_RISKS)
    fields = scores.select(KEY).join(validated, on=KEY, how="left", suffix="_validated", maintain_order="left")
    log_hazard = model.decision_function(clinical_rows(fields), score_columns(scores, model.score_inputs))
    return scores.with_columns(
        pl.Series(column, model.baseline.risk_at(log_hazard, months)) for column, months in SURVIVAL_RISKS.items()
    )


def feature_batches(features: pa.Table, validated: pl.DataFrame, column: str) -> list[str | None]:
    """Each feature row's batch (``column`` of its validated row; None where the cohort lacks it)."""
    if column not in validated.columns:
        return [None] * features.num_rows
    batch_of = dict(zip(validated.select(KEY).rows(), validated[column].cast(pl.String).to_list(), strict=True))
    return [batch_of.get(key) for key in table_keys(features)]


def feature_rows(features: pa.Table, validated: pl.DataFrame) -> list[dict]:
    """Each feature row's clinical fields (those of its validated row; empty where there is none)."""
    fields = clinical_rows(validated)
    row_of = dict(zip(validated.select(KEY).rows(), fields, strict=True))
    return [row_of.get(key, {}) for key in table_keys(features)]


def with_person_ids(scores: pl.DataFrame, validated: pl.DataFrame, person_column: str | None) -> pl.DataFrame:
    """``scores`` with ``person_id`` and ``surgery_date`` from the validated rows. The person is the
    study's person column (several images of one person share it), the row's ``patient_id`` where the
    study has none or the value is null or empty (one row, one person), as the person-grouped splits
    count persons; the surgery date is null where the cohort records no clinical fields."""
    if person_column and person_column in validated.columns:
        named = pl.col(person_column).cast(pl.String)
        person = pl.when(named.is_null() | (named == "")).then(pl.col("patient_id")).otherwise(named)
    else:
        person = pl.col("patient_id")
    date = pl.col("surgery_date") if "surgery_date" in validated.columns else pl.lit(None, pl.Date)
    ids = validated.select([*KEY, person.alias("person_id"), date.cast(pl.Date).alias("surgery_date")])
    return scores.drop("person_id", "surgery_date", strict=False).join(ids, on=KEY, how="left", maintain_order="left")
