"""What a run may reuse from the partitions already written: rows whose hash is unchanged keep their
scores (and the run that computed them); partitions written under an older risk-table contract are
migrated first, and their rows scored again (they lack the new columns' values)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from sonorisk.risk.contract import RiskTableContract, partition_version
from sonorisk.risk.partition import read_partition, write_partition


@dataclass(frozen=True)
class Reuse:
    cached: list[pa.Table]  # rows kept as they are, per cohort
    known: set[str]  # their row hashes
    migrated: dict[str, dict[str, int]]  # cohort_id -> {from, to, rows}


def reusable_rows(
    out: Path, cohort_ids: list[str], hashes: Iterable[str], contract: RiskTableContract, log: Callable[[str], None]
) -> Reuse:
    """The rows of ``out``'s partitions whose hash is among ``hashes`` (after any migration)."""
    migrated = migrate_partitions(out, cohort_ids, contract, log)
    wanted = list(hashes)
    cached: list[pa.Table] = []
    known: set[str] = set()
    for cohort_id in cohort_ids:
        previous = read_partition(out, cohort_id)
        if previous is not None and "row_hash" in previous.column_names and cohort_id not in migrated:
            keep = np.isin(previous.column("row_hash").to_numpy(zero_copy_only=False), wanted)
            cached.append(previous.filter(pa.array(keep)))
            known |= set(cached[-1].column("row_hash").to_pylist())
    return Reuse(cached, known, migrated)


def migrate_partitions(
    out: Path, cohort_ids: list[str], contract: RiskTableContract, log: Callable[[str], None] = print
) -> dict[str, dict[str, int]]:
    """Rewrite (atomically) each of these partitions written under an older contract version as the
    current one; returns cohort_id -> {from, to, rows} for those migrated. Rows are never dropped."""
    migrated = {}
    for cohort_id in cohort_ids:
        previous = read_partition(out, cohort_id)
        if previous is None or partition_version(previous) == contract.version:
            continue
        table, written = contract.migrate(previous)
        if table.num_rows != previous.num_rows:
            raise AssertionError(f"migration of cohort_id={cohort_id} changed the row count")  # never expected
        write_partition(table, out, cohort_id)
        migrated[cohort_id] = {"from": written, "to": contract.version, "rows": table.num_rows}
        log(
            f"score: migrated cohort_id={cohort_id} from risk-table contract v{written} to v{contract.version}"
            f" ({table.num_rows} rows)"
        )
    return migrated
