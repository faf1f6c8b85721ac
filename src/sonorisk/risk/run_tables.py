"""The scoring runs as typed tables for analysts (``sonorisk query``, ``sonorisk runs list``): one row
per run (``runs``) and one row per run and model input (``drift``), read from the run manifests
under ``RISK/_runs/``. Timestamps are UTC datetimes, counts integers, lists lists: no string to parse.
Each run also writes them as ``RISK/_runs/runs.parquet`` and ``drift.parquet`` (``write_run_tables``),
for analysts' own tools (polars, DuckDB; docs/risk-tables.md).

Example:
    >>> manifest = {"run_id": "r1", "scored_at": "2026-12-01T02:30:00+00:00", "cohort": "in/d1.parquet",
    ...             "bundle_sha256": "ab" * 32, "counts": {"rows_in": 3, "scored": 2, "quarantined": 1},
    ...             "partitions": {"d1": "risk/cohort_id=d1/risk.parquet"}, "seconds": {"total": 9.5},
    ...             "drift": {"threshold": 0.25, "judged": True, "flagged": ["age"],
    ...                       "inputs": {"age": {"group": "clinical field", "psi": 0.4, "flagged": True, "rows": 2}}}}
    >>> runs_frame([manifest]).select("cohort_id", "rows_in", "drifted_inputs").row(0)
    ('d1', 3, ['age'])
    >>> drift_frame([manifest]).select("input", "psi", "flagged").row(0)
    ('age', 0.4, True)
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from sonorisk.atomic_file import write_parquet
from sonorisk.risk.partition import RUNS_DIR

RUNS_TABLE = "runs.parquet"
DRIFT_TABLE = "drift.parquet"

COUNTS = ("rows_in", "scored", "quarantined", "cached", "newly_scored", "kept_from_before")
RUNS_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "scored_at": pl.Datetime("us", "UTC"),
    "cohort_id": pl.String(),  # the one cohort the run wrote (null when its file held several)
    "cohort_ids": pl.List(pl.String()),
    "cohort_file": pl.String(),
    "bundle_version": pl.String(),
    "bundle_sha256": pl.String(),
    "profile": pl.String(),
    "mode": pl.String(),
    **dict.fromkeys(COUNTS, pl.Int64()),
    "seconds": pl.Float64(),
    "drift_judged": pl.Boolean(),
    "drifted_inputs": pl.List(pl.String()),
    "n_drifted": pl.Int64(),
    "estimated_auc": pl.Float64(),  # CBPE, the fused risk over every delivered row (null: too few rows)
    "estimated_auc_low": pl.Float64(),
    "estimated_auc_high": pl.Float64(),
    "estimated_prevalence": pl.Float64(),
}
DRIFT_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "scored_at": pl.Datetime("us", "UTC"),
    "input": pl.String(),
    "group": pl.String(),
    "psi": pl.Float64(),
    "flagged": pl.Boolean(),
    "rows": pl.Int64(),
    "threshold": pl.Float64(),
}


def read_manifests(root: Path) -> list[dict[str, Any]]:
    """Every run manifest under ``root/_runs``, oldest first (run ids start with their UTC time)."""
    folder = root / RUNS_DIR
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def runs_frame(manifests: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """One typed row per run (runs from before a field was recorded have null there)."""
    rows = []
    for run in manifests:
        cohorts = sorted(run.get("partitions") or {})
        drift = run.get("drift") or {}
        counts = run["counts"]
        rows.append(
            {
                "run_id": run["run_id"],
                "scored_at": _utc(run["scored_at"]),
                "cohort_id": cohorts[0] if len(cohorts) == 1 else None,
                "cohort_ids": cohorts,
                "cohort_file": run.get("cohort"),
                "bundle_version": run.get("bundle_version"),
                "bundle_sha256": run["bundle_sha256"],
                "profile": (run.get("reproducibility") or {}).get("profile"),
                "mode": run.get("mode"),
                **{name: counts.get(name) for name in COUNTS},
                "seconds": (run.get("seconds") or {}).get("total"),
                "drift_judged": drift.get("judged"),
                "drifted_inputs": list(drift.get("flagged", [])),
                "n_drifted": len(drift.get("flagged", [])),
                **_estimated(run),
            }
        )
    return pl.DataFrame(rows, schema=RUNS_SCHEMA)


def drift_frame(manifests: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """One row per run and model input: its PSI against the training distribution and whether it was
    flagged (runs without a drift record contribute none)."""
    rows = [
        {
            "run_id": run["run_id"],
            "scored_at": _utc(run["scored_at"]),
            "input": name,
            "group": value["group"],
            "psi": value["psi"],
            "flagged": value["flagged"],
            "rows": value["rows"],
            "threshold": run["drift"]["threshold"],
        }
        for run in manifests
        if run.get("drift")
        for name, value in run["drift"]["inputs"].items()
    ]
    return pl.DataFrame(rows, schema=DRIFT_SCHEMA)


def _estimated(run: Mapping[str, Any]) -> dict[str, float | None]:
    group = ((run.get("estimated") or {}).get("groups") or {}).get("all") or {}
    fused = (group.get("auc") or {}).get("risk") or {}
    return {
        "estimated_auc": fused.get("auc"),
        "estimated_auc_low": fused.get("ci_low"),
        "estimated_auc_high": fused.get("ci_high"),
        "estimated_prevalence": group.get("expected_prevalence"),
    }


def write_run_tables(root: Path) -> tuple[Path, Path]:
    """Rewrite ``_runs/runs.parquet`` and ``_runs/drift.parquet`` from every manifest (each atomically)."""
    manifests = read_manifests(root)
    folder = root / RUNS_DIR
    runs = write_parquet(runs_frame(manifests).to_arrow(), folder / RUNS_TABLE)
    return runs, write_parquet(drift_frame(manifests).to_arrow(), folder / DRIFT_TABLE)


def _utc(stamp: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(stamp)
    return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
