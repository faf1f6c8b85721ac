"""The heavy setups the integration tests share, each built once per test session (per pytest-xdist
worker; the tests that read one build carry the same `xdist_group`, so only one worker builds it).
Every build is read-only: a test that changes one copies it first.

- ``reproduced``: the reduced project (``project.py``) after one real `dvc repro`;
- ``nightly_cohort``: twelve unlabelled centre-B patients, one with an impossible age;
- ``scored_root``: that cohort scored once with the reduced project's bundle, through an existing
  Ray cluster (a `ray start` head named by RAY_ADDRESS, as a hospital's scheduler would use);
- ``synthetic_centres``: the synthetic centres the drift and negative-control tests read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sonorisk.synthetic.generator import SynthConfig, write_synthetic_cohort
from tests.integration.project import (
    NIGHTLY_COHORT_ID,
    QUARANTINED_ROW,
    RAY_CLIENT_ENV,
    ScoredRoot,
    claim_build,
    commit_all,
    copy_of_the_clone,
    ray_head,
    reduce_params,
    run,
    sonorisk,
)


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The reduced project after one `dvc repro`, and what it printed."""
    claim_build(tmp_path_factory, "reproduced")
    root = copy_of_the_clone(tmp_path_factory.mktemp("clone") / "sonorisk")
    reduce_params(root)
    commit_all(root)
    return root, run([sys.executable, "-m", "dvc", "repro"], root)


@pytest.fixture(scope="session")
def nightly_cohort(reproduced: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve unlabelled patients from centre B, one of them with an impossible age (quarantined)."""
    project, _ = reproduced
    out = tmp_path_factory.mktemp("nightly") / "cohort.parquet"
    args = ["synth", "--centres", "B=12", "--seed", "4242", "--no-labels", "--no-reader2"]
    made = sonorisk([*args, "--cohort-id", NIGHTLY_COHORT_ID, "--out", str(out), "--workers", "1"], project)
    assert made.returncode == 0, made.stderr
    table = pq.read_table(out)
    ages = table.column("age").to_pylist()
    ages[QUARANTINED_ROW] = 250
    index = table.schema.get_field_index("age")
    field = table.schema.field(index)
    pq.write_table(table.set_column(index, field, pa.array(ages, field.type)), out)
    return out


@pytest.fixture(scope="session")
def scored_root(
    reproduced: tuple[Path, str], nightly_cohort: Path, tmp_path_factory: pytest.TempPathFactory
) -> ScoredRoot:
    """The nightly cohort scored once (bundle-driven extraction, drift judged from 5 rows) through an
    existing Ray cluster, into a root named relative to the folder it runs in (the cluster's workers
    run elsewhere: every path they read must be absolute)."""
    project, _ = reproduced
    root = tmp_path_factory.mktemp("scored") / "risk"
    args = ["score", "--cohort", str(nightly_cohort), "--bundle", str(project / "models/bundle"), "--out", "risk"]
    with ray_head() as address:
        done = sonorisk(
            [*args, "--no-progress", "--drift-min-rows", "5"], root.parent, RAY_CLIENT_ENV | {"RAY_ADDRESS": address}
        )
    assert done.returncode == 0, done.stderr
    (manifest,) = (json.loads(p.read_text()) for p in (root / "_runs").glob("*.json"))
    return ScoredRoot(root, manifest, done.stdout + done.stderr)


@pytest.fixture(scope="session")
def synthetic_centres(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Cohort files of synthetic centres, one per name: ``development`` (centre A, 250 labelled
    patients with a second reader), ``external`` (centre B, 150 labelled), ``same_centre`` (150 new
    unlabelled patients of centre A) and ``other_scanner`` (150 unlabelled of centre D: a 7.5 MHz
    probe, other gain and noise)."""
    claim_build(tmp_path_factory, "synthetic_centres")
    out = tmp_path_factory.mktemp("centres")
    specs = {
        "development": ("A", 250, 611, True),
        "external": ("B", 150, 77, True),
        "same_centre": ("A", 150, 612, False),
        "other_scanner": ("D", 150, 613, False),
    }
    files = {}
    for name, (centre, n, seed, labelled) in specs.items():
        files[name] = out / f"{name}.parquet"
        config = SynthConfig(
            centres=[(centre, n)], seed=seed, cohort_id=name, labels=labelled, second_reader=name == "development"
        )
        write_synthetic_cohort(config, files[name], out / f"{name}.truth.parquet", workers=2, progress=False)
    return files
