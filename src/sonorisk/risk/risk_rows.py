"""Scores into risk-table rows under the bundle's risk-table contract, and the partitions they go to."""

from __future__ import annotations

import datetime as dt
import errno
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from sonorisk.contracts.schema import ROW_KEY
from sonorisk.risk.contract import RiskTableContract
from sonorisk.risk.partition import write_partition, write_quarantine
from sonorisk.risk.scores import SURVIVAL_RISKS
from sonorisk.writable import OutputError


def risk_rows(
    scores: pl.DataFrame,
    hashes: dict[tuple[str, str], str],
    bundle: tuple[str, str],
    contract: RiskTableContract,
    thresholds: dict[str, float],
    run_id: str,
    scored_at: dt.datetime,
) -> pa.Table:
    """One risk-table row per score row; ``bundle`` is (version, sha256)."""
    n = scores.height
    frame = pl.DataFrame(
        {
            "patient_id": scores["patient_id"],
            "person_id": scores["person_id"],
            "cohort_id": scores["cohort_id"],
            "center": scores["center"],
            "surgery_date": scores["surgery_date"],
            "clinical_score": scores["clinical_only"].cast(pl.Float64),
            "rad_score": scores["rad_score"].cast(pl.Float64),
            "radiomics_xgb_score": scores["radiomics_clinical_xgb"].cast(pl.Float64),
            "dl_score": scores["dl_score"].cast(pl.Float64),
            "risk": scores["fusion_risk"].cast(pl.Float64),
            "risk_group": scores["risk_group"],
            **{column: scores[column].cast(pl.Float64) for column in SURVIVAL_RISKS},
            "threshold": [thresholds["youden"]] * n,
            "threshold_high_sensitivity": [thresholds["high_sensitivity"]] * n,
            "score_note": scores["score_note"],
            "row_hash": [hashes[k] for k in scores.select(ROW_KEY).rows()],
            "bundle_version": [bundle[0]] * n,
            "bundle_sha256": [bundle[1]] * n,
            "scored_at": [scored_at] * n,
            "run_id": [run_id] * n,
        }
    )
    # The bundle's contract says which columns exist: a bundle built under v1 has no risk_24m/36m.
    return frame.select([c["name"] for c in contract.columns]).to_arrow().cast(contract.schema)


def write_partitions(
    pieces: list[pa.Table | None], quarantine: pa.Table, cohort_ids: list[str], contract: RiskTableContract, out: Path
) -> tuple[pa.Table, dict[str, str]]:
    """Every cohort's rows (cached and new) checked against the contract and written, with its
    quarantine; returns (all rows, cohort_id -> partition path). Nothing is written if a row breaks it."""
    kept = [t.cast(contract.schema) for t in pieces if t is not None and t.num_rows]
    combined = pa.concat_tables(kept) if kept else contract.schema.empty_table()
    problems = contract.violations(combined)
    if problems:
        raise ValueError("risk table breaks its contract, nothing written: " + "; ".join(problems[:5]))
    partitions = {}
    for cohort_id in cohort_ids:
        part = combined.filter(pc.equal(combined.column("cohort_id"), cohort_id))
        part = part.sort_by([("patient_id", "ascending")])
        try:
            partitions[cohort_id] = str(write_partition(contract.stamp(part), out, cohort_id))
            write_quarantine(quarantine.filter(pc.equal(quarantine.column("cohort_id"), cohort_id)), out, cohort_id)
        except OSError as problem:  # a full disk: each file is replaced whole or not at all (atomic_file.py)
            raise OutputError(
                problem.errno or errno.EIO,
                f"could not write cohort {cohort_id}'s partition under {out} ({problem}); each file there is "
                "as it was before this run",
            ) from None
    return combined, partitions
