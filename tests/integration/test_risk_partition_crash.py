"""The crash test: a process writing risk-table partitions is killed at random moments; every time
the partition is one complete version (the previous or the new one), never a mix, and a rerun
finishes. The writer is the real `write_partition`, in its own process, killed with SIGKILL."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sonorisk.risk.partition import PARTITION_FILE, partition_dir, write_partition

pytestmark = pytest.mark.slow

_WRITER = """
import sys
from pathlib import Path
import pyarrow.parquet as pq
from sonorisk.risk.partition import write_partition
root, a, b = Path(sys.argv[1]), pq.read_table(sys.argv[2]), pq.read_table(sys.argv[3])
print("ready", flush=True)
while True:  # old, new, old, new...: every moment of a write is a possible kill point
    write_partition(b, root, "nightly")
    write_partition(a, root, "nightly")
"""


def _version(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "patient_id": [f"p{i:06d}" for i in range(n)],
            "cohort_id": ["nightly"] * n,
            "risk": rng.random(n),
            "note": [f"version {seed} row {i} " + "x" * 40 for i in range(n)],  # a few MB: writes take a while
        }
    )


def test_a_killed_writer_leaves_the_old_or_the_new_partition(tmp_path: Path) -> None:
    old, new = _version(60_000, 1), _version(60_000, 2)
    pq.write_table(old, tmp_path / "old.parquet")
    pq.write_table(new, tmp_path / "new.parquet")
    root = tmp_path / "risk"
    write_partition(old, root, "nightly")
    target = partition_dir(root, "nightly") / PARTITION_FILE
    rng = np.random.default_rng(2026)
    seen = {"old": 0, "new": 0, "mid_write": 0}
    for _ in range(24):
        child = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(root), str(tmp_path / "old.parquet"), str(tmp_path / "new.parquet")],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.0, 1.5)))
        child.kill()
        child.wait()
        found = pq.read_table(target)  # must be readable: never half a file
        if found.equals(old):
            seen["old"] += 1
        else:
            assert found.equals(new), "the partition is neither the previous nor the new version"
            seen["new"] += 1
        assert [p.name for p in target.parent.glob("*.parquet")] == [PARTITION_FILE]  # no second data file
        seen["mid_write"] += any(target.parent.glob("*.tmp"))  # killed while a temporary file was open
    # The kills really landed on both sides of a replace, and in the middle of writes.
    assert seen["old"] and seen["new"] and seen["mid_write"], seen
    # A rerun finishes and cleans up what the killed writers left.
    write_partition(new, root, "nightly")
    assert pq.read_table(target).equals(new)
    assert sorted(p.name for p in target.parent.iterdir()) == [PARTITION_FILE]
