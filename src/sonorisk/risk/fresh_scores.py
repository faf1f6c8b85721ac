"""The new rows of a scoring run through radiomics (Ray tasks), the DL Score (Ray Data) and the
frozen bundle's models: every score with a note of what failed, and what drift reads of them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from sonorisk.radiomics.models import RadiomicsModels
from sonorisk.radiomics.settings import RadiomicsSettings
from sonorisk.risk.frozen import FrozenBundle
from sonorisk.risk.scores import feature_rows

_IMAGE_COLUMNS = ("image_png", "mask_png", "mask_reader2_png")
Frames = dict[str, pl.DataFrame]


def read_fields(path: Path) -> pa.Table:
    """Every column but the images: those stay on disk (a quarter of a gigabyte at 10,000 patients)."""
    return pq.read_table(path, columns=[c for c in pq.read_schema(path).names if c not in _IMAGE_COLUMNS])


def score_new_rows(
    subset: Path,
    frozen: FrozenBundle,
    settings: RadiomicsSettings,
    work: Path,
    batch_size: int,
    timings: dict[str, float],
    progress: bool,
) -> tuple[pl.DataFrame, Frames]:
    """Scores (with notes) of the new rows, and what drift reads of them."""
    from sonorisk.deep.batch_scoring import score_cohorts
    from sonorisk.radiomics.fanout import extract_with_ray
    from sonorisk.runtime import ray_session

    with ray_session(defer=True) as ensure_ray:
        start = time.perf_counter()
        features = extract_with_ray(subset, settings, progress=progress, ensure_ray=ensure_ray).table
        timings["radiomics"] = time.perf_counter() - start
        start = time.perf_counter()
        # One actor on all cores, not dl-score's one per core: a second torch process would not fit
        # the night's memory budget (docs/performance.md, "Nightly scoring").
        deep = frozen.bundle.path("deep")
        score_cohorts([subset], deep, work / "dl.parquet", batch_size, actors=1, progress=progress)
        timings["dl_score"] = time.perf_counter() - start
    start = time.perf_counter()
    dl = pl.read_parquet(work / "dl.parquet")
    validated = pl.from_arrow(read_fields(subset))
    assert isinstance(validated, pl.DataFrame)
    radiomics, batches = frozen.radiomics_for(validated, features)  # once: scoring and drift read the same
    scores = frozen.score(validated, features, dl, radiomics)
    scores = scores.with_columns(pl.Series("score_note", _notes(scores, features, dl), dtype=pl.String))
    timings["fusion"] = time.perf_counter() - start
    # Only the columns drift reads: a full extraction has hundreds more.
    watched = set(frozen.drift_inputs)
    image_features = pl.from_arrow(features.select([c for c in features.column_names if c in watched]))
    assert isinstance(image_features, pl.DataFrame)
    image_features = _as_read(image_features, features, radiomics, batches, validated)
    return scores, {"image feature": image_features, "clinical field": validated, "score": scores}


def _as_read(
    image_features: pl.DataFrame,
    features: pa.Table,
    radiomics: RadiomicsModels,
    batches: list[str | None],
    validated: pl.DataFrame,
) -> pl.DataFrame:
    """The watched features the radiomics family harmonises, harmonised as it read them (drift is
    then judged on what the models saw); the others as extracted."""
    if radiomics.harmoniser is None:
        return image_features
    rows = feature_rows(features, validated)  # the protected covariates, if any
    harmonised = radiomics.harmoniser.apply(radiomics.feature_matrix(features), batches, rows)[0]
    replaced = [
        pl.Series(name, harmonised[:, j]) for j, name in enumerate(radiomics.features) if name in image_features.columns
    ]
    return image_features.with_columns(replaced)


def _notes(scores: pl.DataFrame, features: pa.Table, dl: pl.DataFrame) -> list[str | None]:
    """Per row: the fusion's imputation note, a failed extraction and a failed crop, joined."""
    status = dict(zip(features.column("patient_id").to_pylist(), features.column("error").to_pylist(), strict=True))
    crop = dict(zip(dl["patient_id"].to_list(), dl["crop_error"].to_list(), strict=True))
    unharmonised = (
        [
            f"radiomics: batch {b} not harmonised" if not h else None
            for b, h in zip(scores["batch"], scores["harmonised"], strict=True)
        ]
        if "harmonised" in scores.columns
        else [None] * scores.height
    )
    notes = []
    for pid, note, batch in zip(
        scores["patient_id"].to_list(), scores["fusion_note"].to_list(), unharmonised, strict=True
    ):
        failed = (status.get(pid) and f"radiomics: {status[pid]}", crop.get(pid) and f"dl: {crop[pid]}")
        notes.append("; ".join(p for p in (note, *failed, batch) if p) or None)
    return notes


def harmonisation_record(frozen: FrozenBundle, scores: pl.DataFrame) -> dict[str, Any] | None:
    """Per batch of the new rows: how many, how many harmonised, and whose estimates (training's, or
    this run's for a batch unseen in training); None where the bundle's features are not harmonised."""
    harmoniser = frozen.radiomics.harmoniser
    if harmoniser is None or "batch" not in scores.columns:
        return None
    counts = scores.group_by("batch").agg(rows=pl.len(), harmonised=pl.col("harmonised").sum())
    batches = {}
    for batch, rows, done in counts.sort("batch", nulls_last=True).iter_rows():
        source = "training" if batch in harmoniser.estimates.gamma else ("this run" if done else None)
        batches["(no batch)" if batch is None else batch] = {"rows": rows, "harmonised": int(done), "estimates": source}
    return {"method": "combat", "batch_column": harmoniser.batch_column, "min_batch_rows": harmoniser.min_batch_rows,
            "batches": batches}  # fmt: skip
