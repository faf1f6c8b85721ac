"""Risk-table partitions on disk: ``<root>/cohort_id=<id>/risk.parquet``, written atomically.

A partition is one Parquet file, written by the project's atomic writer (``atomic_file.py``): a
reader, or a process killed at any moment, sees the old file or the new one, never a mix or a
half-written file. Temporary files left by a killed writer end in ``.tmp`` (never matched by
``*.parquet``) and are removed by the next write.

Example:
    >>> import tempfile, pyarrow as pa
    >>> root = Path(tempfile.mkdtemp())
    >>> path = write_partition(pa.table({"patient_id": ["p1"], "risk": [0.2]}), root, "c1")
    >>> path.relative_to(root).as_posix(), read_partition(root, "c1").num_rows
    ('cohort_id=c1/risk.parquet', 1)
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sonorisk.atomic_file import write_parquet

PARTITION_FILE = "risk.parquet"
QUARANTINE_DIR = "_quarantine"
RUNS_DIR = "_runs"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def partition_dir(root: Path, cohort_id: str) -> Path:
    if not _SAFE_ID.match(cohort_id) or cohort_id in (".", ".."):
        raise ValueError(f"cohort_id {cohort_id!r} cannot name a partition folder (letters, digits, . _ - only)")
    return root / f"cohort_id={cohort_id}"


def write_partition(table: pa.Table, root: Path, cohort_id: str) -> Path:
    return write_parquet(table, partition_dir(root, cohort_id) / PARTITION_FILE)


def read_partition(root: Path, cohort_id: str) -> pa.Table | None:
    path = partition_dir(root, cohort_id) / PARTITION_FILE
    return pq.read_table(path) if path.exists() else None


def write_quarantine(table: pa.Table, root: Path, cohort_id: str) -> Path:
    return write_parquet(table, partition_dir(root / QUARANTINE_DIR, cohort_id) / "quarantine.parquet")
