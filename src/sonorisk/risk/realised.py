"""Realised performance, once outcomes arrive (``sonorisk runs realise --labels FILE``): the risk
table's rows joined to their outcomes (and follow-up, where given), per run that scored them and per
group (all rows, each centre): AUC with its DeLong interval, event rate, Brier score, calibration
intercept and slope and, with follow-up, Uno's C and the time-dependent AUC by 24 and 36 months;
each beside the run's estimate (``estimated.py``). Every call appends to
``RISK/_realised/realised.parquet`` (rewritten atomically: a kill at any moment leaves the old table
or the new one), so the history of what was known when can be queried (table ``realised``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sonorisk.atomic_file import write_parquet
from sonorisk.contracts.schema import ROW_KEY
from sonorisk.risk.partition import PARTITION_FILE
from sonorisk.stats.classification import brier, calibration_intercept_slope
from sonorisk.stats.delong import auc_ci
from sonorisk.stats.survival import td_auc, uno_c

REALISED_DIR = "_realised"
REALISED_FILE = "realised.parquet"
HORIZONS = (24, 36)  # months, as the risk table's risk_24m / risk_36m
MIN_EACH_CLASS = 2  # events and non-events a realised AUC needs


def read_labels(path: Path, outcome: str, followup: str | None) -> pl.DataFrame:
    """The labels file (Parquet or CSV): ``patient_id``, optional ``cohort_id``, ``outcome`` and,
    when present, ``followup``. Raises FileNotFoundError or ValueError (one line) when unusable."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such labels file")
    try:
        frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path, infer_schema_length=10000)
    except (pl.exceptions.PolarsError, OSError) as problem:
        raise ValueError(f"{path}: unreadable labels file ({str(problem).splitlines()[0]})") from None
    missing = [c for c in ("patient_id", outcome) if c not in frame.columns]
    if missing:
        has = ", ".join(frame.columns)
        raise ValueError(f"{path}: the labels file lacks column(s) {', '.join(missing)} (has {has})")
    keep = [c for c in ("cohort_id", "patient_id", outcome, followup) if c and c in frame.columns]
    frame = frame.select(keep).with_columns(pl.col(outcome).cast(pl.Boolean, strict=False))
    if followup and followup in frame.columns:
        frame = frame.with_columns(pl.col(followup).cast(pl.Float64, strict=False))
    return frame.filter(pl.col(outcome).is_not_null())


def labelled_rows(root: Path, labels: pl.DataFrame, outcome: str) -> pl.DataFrame:
    """Risk-table rows with their outcome; joined on (cohort_id, patient_id), or on patient_id alone
    when the labels carry no cohort id and the ids are unique across the table."""
    partitions = sorted(root.glob(f"cohort_id=*/{PARTITION_FILE}"))
    if not partitions:
        raise FileNotFoundError(f"no risk-table partitions under {root}")
    risk = pl.read_parquet(partitions, missing_columns="insert")
    if "cohort_id" in labels.columns:
        return risk.join(labels, on=list(ROW_KEY), how="inner")
    duplicated = risk.group_by("patient_id").len().filter(pl.col("len") > 1)
    if duplicated.height:
        raise ValueError(
            f"patient_id {duplicated['patient_id'][0]!r} is in {duplicated['len'][0]} cohorts: give the labels "
            "file a cohort_id column"
        )
    return risk.join(labels, on="patient_id", how="inner")


def realise(
    root: Path,
    labels_path: Path,
    manifests: Mapping[str, Mapping[str, Any]],
    outcome: str,
    followup: str | None,
    now: dt.datetime,
) -> pl.DataFrame:
    """One row per run and group with the realised figures beside the estimates; appended to the history."""
    labels = read_labels(labels_path, outcome, followup)
    rows = labelled_rows(root, labels, outcome)
    if rows.height == 0:
        raise ValueError(f"{labels_path}: none of its {labels.height} labelled patients is in the risk table")
    has_followup = bool(followup) and followup in rows.columns
    records = []
    for run_id in sorted(set(rows["run_id"])):
        of_run = rows.filter(pl.col("run_id") == run_id)
        groups = {"all": of_run} | {
            f"center={c}": of_run.filter(pl.col("center") == c) for c in sorted(set(of_run["center"]))
        }
        estimated = ((manifests.get(run_id) or {}).get("estimated") or {}).get("groups", {})
        for name, members in groups.items():
            record = {"run_id": run_id, "group": name} | _metrics(members, outcome, followup if has_followup else None)
            fused = (estimated.get(name) or {}).get("auc", {}).get("risk") or {}
            record |= {
                "estimated_auc": fused.get("auc"),
                "estimated_auc_low": fused.get("ci_low"),
                "estimated_auc_high": fused.get("ci_high"),
                "expected_prevalence": (estimated.get(name) or {}).get("expected_prevalence"),
            }
            records.append(record)
    sha = hashlib.sha256(labels_path.read_bytes()).hexdigest()
    result = pl.DataFrame(records, schema=REALISED_SCHEMA).with_columns(
        pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("realised_at"),
        pl.lit(str(labels_path)).alias("labels_file"),
        pl.lit(sha).alias("labels_sha256"),
    )
    append_history(root, result)
    return result


REALISED_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "group": pl.String(),
    "rows": pl.Int64(),
    "events": pl.Int64(),
    "auc": pl.Float64(),
    "auc_low": pl.Float64(),
    "auc_high": pl.Float64(),
    "prevalence": pl.Float64(),
    "brier": pl.Float64(),
    "calibration_intercept": pl.Float64(),
    "calibration_slope": pl.Float64(),
    "uno_c": pl.Float64(),
    **{f"td_auc_{h}m": pl.Float64() for h in HORIZONS},
    "estimated_auc": pl.Float64(),
    "estimated_auc_low": pl.Float64(),
    "estimated_auc_high": pl.Float64(),
    "expected_prevalence": pl.Float64(),
}


def _metrics(rows: pl.DataFrame, outcome: str, followup: str | None) -> dict[str, Any]:
    y = rows[outcome].to_numpy().astype(bool)
    p = rows["risk"].to_numpy().astype(float)
    figures: dict[str, Any] = {"rows": len(y), "events": int(y.sum()), "prevalence": float(y.mean())}
    if min(y.sum(), (~y).sum()) < MIN_EACH_CLASS:
        return figures  # an AUC or a calibration fit needs both outcomes
    estimate = auc_ci(y, p)
    intercept, slope = calibration_intercept_slope(y, p)
    figures |= {
        "auc": estimate.auc,
        "auc_low": estimate.low,
        "auc_high": estimate.high,
        "brier": brier(y, p),
        "calibration_intercept": intercept,
        "calibration_slope": slope,
    }
    if followup is not None:
        time = rows[followup].to_numpy().astype(float)
        known = np.isfinite(time) & (time > 0)
        if known.sum() >= 2 * MIN_EACH_CLASS and y[known].any():
            reference = (y[known], time[known])
            figures["uno_c"] = uno_c(reference, y[known], time[known], p[known])
            horizons = [h for h in HORIZONS if time[known].min() < h < time[known].max()]
            if horizons:
                values = td_auc(reference, y[known], time[known], p[known], np.array(horizons, float))
                figures |= {f"td_auc_{h}m": float(v) for h, v in zip(horizons, values, strict=True)}
    return figures


def append_history(root: Path, new: pl.DataFrame) -> Path:
    """Append ``new`` to ``_realised/realised.parquet``: the whole table is written to a temporary file
    and renamed over the old one, so a reader (or a crash) sees the old history or the new one."""
    path = root / REALISED_DIR / REALISED_FILE
    history = pl.concat([pl.read_parquet(path), new], how="diagonal_relaxed") if path.is_file() else new
    return write_parquet(history.to_arrow(), path)


def read_history(root: Path) -> pl.DataFrame | None:
    path = root / REALISED_DIR / REALISED_FILE
    return pl.read_parquet(path) if path.is_file() else None
