"""Two Ray nodes (ray.cluster_utils.Cluster): same features as one process, work on both nodes."""

from __future__ import annotations

from pathlib import Path

import pytest

from sonorisk.radiomics.fanout import extract_serial, extract_with_ray
from sonorisk.radiomics.settings import load_settings

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_two_node_cluster_matches_single_process(small_cohort: Path) -> None:
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        cluster.wait_for_nodes()
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        settings = load_settings()
        run = extract_with_ray(small_cohort, settings, cases_per_task=1, progress=False)
        assert len(run.nodes) == 2, f"work ran on {dict(run.nodes)}"
        assert run.table.equals(extract_serial(small_cohort, settings))
    finally:
        ray.shutdown()
        cluster.shutdown()
