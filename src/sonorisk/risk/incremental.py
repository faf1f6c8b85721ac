"""What a run may reuse from the partitions already written: rows whose hash is unchanged keep their
scores (and the run that computed them); partitions written under an older risk-table contract are
migrated first, and their rows scored again (they lack the new columns' values).

Rows of a partition that tonight's file does not deliver (their patient is absent) are never dropped
silently: the run refuses (``UndeliveredRowsError``) unless its mode says ``append`` (keep them) or
``replace`` (drop them, the old partition kept under ``_history/cohort_id=<id>/<run_id>.parquet``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from sonorisk.contracts.schema import table_keys
from sonorisk.risk.contract import RiskTableContract, partition_version
from sonorisk.risk.partition import PARTITION_FILE, partition_dir, read_partition, write_partition

MODES = ("refuse", "append", "replace")
HISTORY_DIR = "_history"


class UndeliveredRowsError(Exception):
    """A run would drop rows of an existing partition whose patients tonight's file lacks."""


@dataclass(frozen=True)
class Reuse:
    cached: list[pa.Table]  # rows kept as they are, per cohort
    known: set[str]  # their row hashes
    migrated: dict[str, dict[str, int]]  # cohort_id -> {from, to, rows}
    undelivered: dict[str, pa.Table]  # cohort_id -> its rows whose patient tonight's file lacks


def reusable_rows(
    out: Path,
    cohort_ids: list[str],
    hashes: Iterable[str],
    delivered: set[tuple[str, str]],
    contract: RiskTableContract,
    log: Callable[[str], None],
) -> Reuse:
    """The rows of ``out``'s partitions whose hash is among ``hashes`` (after any migration), and those
    whose key is not among the ``delivered`` keys (valid or quarantined tonight)."""
    wanted = list(hashes)
    cached: list[pa.Table] = []
    known: set[str] = set()
    migrated: dict[str, dict[str, int]] = {}
    undelivered = {}
    for cohort_id in cohort_ids:
        previous = read_partition(out, cohort_id)  # read once: migrated in place if need be
        if previous is None:
            continue
        previous, record = _migrate(out, cohort_id, previous, contract, log)
        if record is not None:
            migrated[cohort_id] = record
        absent = np.array([k not in delivered for k in table_keys(previous)], dtype=bool)
        if absent.any():
            undelivered[cohort_id] = previous.filter(pa.array(absent))
        if "row_hash" in previous.column_names and record is None:
            keep = np.isin(previous.column("row_hash").to_numpy(zero_copy_only=False), wanted)
            cached.append(previous.filter(pa.array(keep)))
            known |= set(cached[-1].column("row_hash").to_pylist())
    return Reuse(cached, known, migrated, undelivered)


def rows_to_keep(reuse: Reuse, mode: str) -> list[pa.Table]:
    """The undelivered rows this run keeps, by ``mode``: ``refuse`` raises when there are any,
    ``append`` keeps them, ``replace`` drops them (``archive_replaced`` keeps the old partitions)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not reuse.undelivered or mode == "replace":
        return []
    if mode == "refuse":
        counts = ", ".join(f"cohort_id={c}: {t.num_rows}" for c, t in sorted(reuse.undelivered.items()))
        example = next(iter(reuse.undelivered.values())).column("patient_id")[0].as_py()
        raise UndeliveredRowsError(
            f"the risk table holds patients this file does not deliver ({counts}; e.g. {example}): pass "
            "--mode append to keep them, or --mode replace to drop them (the old partition goes to "
            f"{HISTORY_DIR}/); nothing written"
        )
    return list(reuse.undelivered.values())


def archive_replaced(reuse: Reuse, out: Path, run_id: str) -> None:
    """Copy each partition that loses rows to ``_history/cohort_id=<id>/<run_id>.parquet``."""
    for cohort_id in reuse.undelivered:
        target = partition_dir(out / HISTORY_DIR, cohort_id) / f"{run_id}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(partition_dir(out, cohort_id) / PARTITION_FILE, target)


def migrate_partitions(
    out: Path, cohort_ids: list[str], contract: RiskTableContract, log: Callable[[str], None] = print
) -> dict[str, dict[str, int]]:
    """Rewrite (atomically) each of these partitions written under an older contract version as the
    current one; returns cohort_id -> {from, to, rows} for those migrated. Rows are never dropped."""
    migrated = {}
    for cohort_id in cohort_ids:
        previous = read_partition(out, cohort_id)
        record = _migrate(out, cohort_id, previous, contract, log)[1] if previous is not None else None
        if record is not None:
            migrated[cohort_id] = record
    return migrated


def _migrate(
    out: Path, cohort_id: str, previous: pa.Table, contract: RiskTableContract, log: Callable[[str], None]
) -> tuple[pa.Table, dict[str, int] | None]:
    """The partition as the current contract has it, and {from, to, rows} when it had to be rewritten."""
    if partition_version(previous) == contract.version:
        return previous, None
    table, written = contract.migrate(previous)
    if table.num_rows != previous.num_rows:
        raise AssertionError(f"migration of cohort_id={cohort_id} changed the row count")  # never expected
    write_partition(table, out, cohort_id)
    log(
        f"score: migrated cohort_id={cohort_id} from risk-table contract v{written} to v{contract.version}"
        f" ({table.num_rows} rows)"
    )
    return table, {"from": written, "to": contract.version, "rows": table.num_rows}
