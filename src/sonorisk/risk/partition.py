"""Risk-table partitions on disk: ``<root>/cohort_id=<id>/risk.parquet``, written atomically.

A partition is one Parquet file. It is written to a temporary file in the partition's folder,
flushed to disk, and moved over the old file with ``Path.replace`` (``os.replace``, an atomic rename
on POSIX): a reader, or a process killed at any moment, sees the old file or the new one, never a mix
or a half-written file.
Temporary files left by a killed writer end in ``.tmp`` (never matched by ``*.parquet``) and are
removed by the next write.

Example:
    >>> import tempfile, pyarrow as pa
    >>> root = Path(tempfile.mkdtemp())
    >>> path = write_partition(pa.table({"patient_id": ["p1"], "risk": [0.2]}), root, "c1")
    >>> path.relative_to(root).as_posix(), read_partition(root, "c1").num_rows
    ('cohort_id=c1/risk.parquet', 1)
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

PARTITION_FILE = "risk.parquet"
QUARANTINE_DIR = "_quarantine"
RUNS_DIR = "_runs"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def partition_dir(root: Path, cohort_id: str) -> Path:
    if not _SAFE_ID.match(cohort_id) or cohort_id in (".", ".."):
        raise ValueError(f"cohort_id {cohort_id!r} cannot name a partition folder (letters, digits, . _ - only)")
    return root / f"cohort_id={cohort_id}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_parquet(table: pa.Table, path: Path) -> Path:
    """Write ``table`` to ``path`` through a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    with temporary.open("wb") as handle:
        pq.write_table(table, handle, compression="zstd")
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)  # os.replace: atomic on POSIX
    _fsync_dir(path.parent)
    return path


def write_partition(table: pa.Table, root: Path, cohort_id: str) -> Path:
    return atomic_write_parquet(table, partition_dir(root, cohort_id) / PARTITION_FILE)


def read_partition(root: Path, cohort_id: str) -> pa.Table | None:
    path = partition_dir(root, cohort_id) / PARTITION_FILE
    return pq.read_table(path) if path.exists() else None


def write_quarantine(table: pa.Table, root: Path, cohort_id: str) -> Path:
    return atomic_write_parquet(table, partition_dir(root / QUARANTINE_DIR, cohort_id) / "quarantine.parquet")
