"""SQL over every risk-table partition, through polars (``sonorisk query``).

The table is named ``risk``; ``quarantine`` (rows held by the contracts, with their reasons),
``runs`` (one typed row per scoring run), ``drift`` (one row per run and model input: PSI, flagged;
``run_tables.py``) and ``history`` (partitions a ``--mode replace`` run replaced, with
``replaced_by_run``) are there too. Columns and recipes: docs/risk-tables.md.

Example:
    >>> import tempfile, pyarrow as pa
    >>> from sonorisk.risk.partition import write_partition
    >>> root = Path(tempfile.mkdtemp())
    >>> table = pa.table({"patient_id": ["p1", "p2"], "cohort_id": ["c", "c"], "risk": [0.1, 0.7]})
    >>> _ = write_partition(table, root, "c")
    >>> run_query("SELECT patient_id FROM risk WHERE risk > 0.5", root)["patient_id"].to_list()
    ['p2']
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sonorisk.pseudonym import Pseudonymiser
from sonorisk.risk.export import pseudonymised_quarantine, pseudonymised_risk
from sonorisk.risk.incremental import HISTORY_DIR
from sonorisk.risk.partition import PARTITION_FILE, QUARANTINE_DIR
from sonorisk.risk.realised import read_history
from sonorisk.risk.run_tables import drift_frame, read_manifests, runs_frame


def run_query(sql: str, root: Path, pseudonymiser: Pseudonymiser | None = None) -> pl.DataFrame:
    """Run ``sql`` with ``risk``, ``quarantine``, ``runs``, ``drift`` and ``history`` registered (those
    that exist); raises ValueError with one line on bad SQL, an unknown table or column, a failing cast.
    With ``pseudonymiser``, the tables with patients read as ``export.py`` writes them."""
    if not root.is_dir():
        raise FileNotFoundError(f"no risk tables at {root}: run `sonorisk score` first")
    context = pl.SQLContext()
    partitions = sorted(root.glob(f"cohort_id=*/{PARTITION_FILE}"))
    if not partitions:
        raise FileNotFoundError(f"no risk-table partitions under {root}")
    # A partition not yet migrated to the current contract reads with nulls in the newer columns.
    risk = pl.scan_parquet(partitions, missing_columns="insert")
    context.register("risk", pseudonymised_risk(risk, pseudonymiser) if pseudonymiser else risk)
    replaced = sorted((root / HISTORY_DIR).glob("cohort_id=*/*.parquet"))
    if replaced:  # partitions a `--mode replace` run replaced, one file per run (the run id is its name)
        frames = [pl.scan_parquet(p).with_columns(pl.lit(p.stem).alias("replaced_by_run")) for p in replaced]
        history = pl.concat(frames, how="diagonal_relaxed")
        context.register("history", pseudonymised_risk(history, pseudonymiser) if pseudonymiser else history)
    held = sorted((root / QUARANTINE_DIR).glob("cohort_id=*/quarantine.parquet"))
    if held:
        quarantine = pl.scan_parquet(held, missing_columns="insert")
        context.register(
            "quarantine", pseudonymised_quarantine(quarantine, pseudonymiser) if pseudonymiser else quarantine
        )
    realised = read_history(root)
    if realised is not None:  # `sonorisk runs realise`: realised beside estimated, per run and group
        context.register("realised", realised.lazy())
    manifests = read_manifests(root)
    if manifests:
        context.register("runs", runs_frame(manifests).lazy())
        context.register("drift", drift_frame(manifests).lazy())
    try:
        return context.execute(sql).collect()
    except pl.exceptions.PolarsError as problem:  # bad SQL, an unknown column, a failing cast: one line
        raise ValueError(
            f"query failed: {(str(problem).strip().splitlines() or [type(problem).__name__])[0]}"
        ) from None
