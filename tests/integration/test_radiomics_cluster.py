"""Two Ray nodes (ray.cluster_utils.Cluster): same features as one process, work on both nodes.

The cluster runs in a child interpreter: this process may already hold the session's local Ray
(``ray_local``), and one process connects to one cluster at a time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sonorisk.paths import PROJECT_ROOT

pytestmark = [pytest.mark.ray, pytest.mark.slow]

_TWO_NODES = """
import sys
from pathlib import Path
import ray
from ray.cluster_utils import Cluster
from sonorisk.radiomics.fanout import extract_serial, extract_with_ray
from sonorisk.radiomics.settings import load_settings

cohort = Path(sys.argv[1])
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
cluster.add_node(num_cpus=1)
try:
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    alive = len([n for n in ray.nodes() if n["Alive"]])
    settings = load_settings()
    run = extract_with_ray(cohort, settings, cases_per_task=1, progress=False)
    same = run.table.equals(extract_serial(cohort, settings))
    print(f"alive={alive} worked_on={len(run.nodes)} same={same} nodes={dict(run.nodes)}")
finally:
    ray.shutdown()
    cluster.shutdown()
"""


def test_two_node_cluster_matches_single_process(small_cohort: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _TWO_NODES, str(small_cohort)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = done.stdout.strip().splitlines()[-1]
    assert report.startswith("alive=2 worked_on=2 same=True"), report
