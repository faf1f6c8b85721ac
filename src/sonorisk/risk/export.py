"""Pseudonymised views of the risk tables for analysts (``sonorisk export --pseudonymise``, ``sonorisk
query --pseudonymise``): ``patient_id`` and ``person_id`` replaced by keyed hashes (``pseudonym.py``),
the same across nights under one key; what else could single a patient out is left out: the row
hash, the surgery date (kept as its month) and, for quarantined rows, every clinical value and the
values the contracts refused (each reason keeps its column, rule and contract).

Example:
    >>> import datetime as dt
    >>> frame = pl.DataFrame({"patient_id": ["MRN-1"], "person_id": ["MRN-1"], "risk": [0.3],
    ...                       "row_hash": ["ab"], "surgery_date": [dt.date(2026, 11, 17)]})
    >>> out = pseudonymised_risk(frame.lazy(), Pseudonymiser(b"0" * 16)).collect()
    >>> out.columns, out["surgery_month"].to_list(), out["patient_id"][0] == out["person_id"][0] != "MRN-1"
    (['patient_id', 'person_id', 'risk', 'surgery_month'], [datetime.date(2026, 11, 1)], True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from sonorisk.atomic_file import atomic_path, write_json
from sonorisk.pseudonym import Pseudonymiser
from sonorisk.risk.partition import PARTITION_FILE, QUARANTINE_DIR
from sonorisk.writable import ensure_writable

ID_COLUMNS = ("patient_id", "person_id", "case_id")
LEFT_OUT = ("row_hash", "source_id")
QUARANTINE_KEPT = ("cohort_id", "center", "input_row")


def _pseudonyms(frame: pl.LazyFrame, pseudonymiser: Pseudonymiser) -> pl.LazyFrame:
    columns = frame.collect_schema().names()
    return frame.with_columns(
        pl.col(c).map_elements(pseudonymiser.id_of, return_dtype=pl.String) for c in ID_COLUMNS if c in columns
    )


def pseudonymised_risk(frame: pl.LazyFrame, pseudonymiser: Pseudonymiser) -> pl.LazyFrame:
    """Risk rows (or replaced ones) with pseudonyms, the surgery month for the date, no row hash."""
    columns = frame.collect_schema().names()
    out = _pseudonyms(frame, pseudonymiser).drop([c for c in LEFT_OUT if c in columns])
    if "surgery_date" in columns:
        out = out.with_columns(pl.col("surgery_date").dt.truncate("1mo").alias("surgery_month")).drop("surgery_date")
    return out


def pseudonymised_quarantine(frame: pl.LazyFrame, pseudonymiser: Pseudonymiser) -> pl.LazyFrame:
    """Quarantined rows: the pseudonym, cohort, centre and each reason's column, rule and contract;
    no clinical field, no refused value."""
    columns = frame.collect_schema().names()
    frame = frame.select(c for c in (*ID_COLUMNS, *QUARANTINE_KEPT, "quarantine_reasons") if c in columns)
    if "quarantine_reasons" in columns:
        reason = pl.element().struct
        frame = frame.with_columns(
            pl.col("quarantine_reasons").list.eval(
                pl.struct(reason.field("column"), reason.field("rule"), reason.field("contract"))
            )
        )
    return _pseudonyms(frame, pseudonymiser)


def read_risk(root: Path) -> pl.LazyFrame:
    partitions = sorted(root.glob(f"cohort_id=*/{PARTITION_FILE}"))
    if not partitions:
        raise FileNotFoundError(f"no risk-table partitions under {root}: run `sonorisk score` first")
    return pl.scan_parquet(partitions, missing_columns="insert")


def read_quarantine(root: Path) -> pl.LazyFrame | None:
    held = sorted((root / QUARANTINE_DIR).glob("cohort_id=*/quarantine.parquet"))
    return pl.scan_parquet(held, missing_columns="insert") if held else None


def export_pseudonymised(root: Path, key: Path, out: Path) -> dict[str, Any]:
    """Write ``out/risk.parquet``, ``out/quarantine.parquet`` and ``out/export.json`` (counts and the
    key's fingerprint, never the key); returns the summary."""
    ensure_writable(out)
    pseudonymiser = Pseudonymiser.from_file(key)
    out.mkdir(parents=True, exist_ok=True)
    risk = pseudonymised_risk(read_risk(root), pseudonymiser).sort("cohort_id", "patient_id").collect()
    held = read_quarantine(root)
    quarantine = (
        pseudonymised_quarantine(held, pseudonymiser).sort("cohort_id", "patient_id").collect()
        if held is not None
        else pl.DataFrame(schema={"patient_id": pl.String, "cohort_id": pl.String})
    )
    for name, frame in (("risk", risk), ("quarantine", quarantine)):
        with atomic_path(out / f"{name}.parquet") as partial:
            frame.write_parquet(partial)
    summary = {
        "source": str(root),
        "rows": {"risk": risk.height, "quarantine": quarantine.height},
        "pseudonyms": "HMAC-SHA-256 of the ID under the key, first 24 hex digits, prefixed psn-",
        "key_fingerprint": pseudonymiser.pseudonym("sonorisk key fingerprint", length=12),
        "left_out": [*LEFT_OUT, "surgery_date (kept as surgery_month)", "quarantined rows' clinical fields and "
                     "refused values"],
    }  # fmt: skip
    write_json(out / "export.json", summary, sort_keys=False)
    return summary
