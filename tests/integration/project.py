"""A throw-away copy of the project for the tests that run DVC and the `sonorisk` command for real:
copied from git's tracked files (what a clone holds), committed in a fresh repository, with helpers
to run commands in it. The session's shared builds (``tests/integration/conftest.py``) use it."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sonorisk.paths import PROJECT_ROOT

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
}

# The reduced project: the default study at 120 patients and a lighter DL stage, so that its training
# stages can be re-run on a copy (the leakage test) within the suite's budget.
REDUCED_CENTRES = "A=70,B=50"
REDUCED_ARCHIVE = "A=40,B=10"  # the unlabelled archive; its centre-B rows stay out of pretraining
REDUCED_PERTURBATION = "data_contracts/radiomics/perturbation_reduced.yaml"
NIGHTLY_COHORT_ID = "nightly-2026-11-28"
QUARANTINED_ROW = 5  # the nightly cohort's row given an impossible age


@dataclass(frozen=True)
class ScoredRoot:
    """A risk root after one `sonorisk score` run (read-only: ``copy_to`` before changing it)."""

    root: Path
    manifest: dict
    printed: str

    def partition(self, root: Path | None = None) -> Path:
        return (root or self.root) / f"cohort_id={NIGHTLY_COHORT_ID}" / "risk.parquet"

    def copy_to(self, to: Path) -> Path:
        shutil.copytree(self.root, to)
        return to


# The reduced project's build and its consumers are the suite's longest chain; the other heavy
# builds (the own-study pipeline, the three profile runs) yield the CPU to it when both run at once.
BACKGROUND_NICENESS = 10


def in_background() -> None:
    """``preexec_fn`` of a heavy build that is not on the suite's longest chain: a lower priority."""
    os.nice(BACKGROUND_NICENESS)


def claim_build(tmp_path_factory: Any, name: str) -> None:
    """Record that this pytest-xdist worker builds the shared setup ``name``; fail if another worker
    already did. Tests that share a build carry one `xdist_group` so that one worker makes it; if
    the grouping silently stopped working (as under pytest 9.2, pytest-xdist #1386), each worker
    would build its own copy and the suite would double its time without failing."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        return
    record = tmp_path_factory.getbasetemp().parent / f"shared-build-{name}"
    try:
        with record.open("x") as claimed:
            claimed.write(worker)
    except FileExistsError:
        first = record.read_text()
        raise AssertionError(
            f"the shared build '{name}' is made twice (by {first}, then by {worker}): the tests that read it "
            "must carry one xdist_group and run under --dist loadgroup (pytest-xdist #1386)"
        ) from None


def command_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment with this interpreter's scripts (dvc, sonorisk, ray) first on PATH."""
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    return os.environ | GIT_IDENTITY | {"PATH": path} | (extra or {})


def run(args: list[str], cwd: Path, env_extra: dict[str, str] | None = None) -> str:
    """Run a command; fail the test with its output unless it exits 0. Returns stdout + stderr."""
    result = subprocess.run(args, cwd=cwd, env=command_env(env_extra), capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{args}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout + result.stderr


def sonorisk(args: list[str], cwd: Path, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`sonorisk ARGS` in a fresh interpreter (its exit code and streams are what tests look at)."""
    return subprocess.run(
        [sys.executable, "-m", "sonorisk.cli", *args],
        cwd=cwd,
        env=command_env(env_extra),
        capture_output=True,
        text=True,
        check=False,
    )


# What a scheduler's environment for an existing cluster would hold: no token, no metrics.
RAY_CLIENT_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_enable_metrics_collection": "0", "RAY_USAGE_STATS_ENABLED": "0"}


@contextmanager
def ray_head() -> Iterator[str]:
    """A Ray head started with `ray start --head` (as a hospital's cluster would be), on a free
    local port; yields its address. `--block` keeps the head in this process group, so exactly
    this cluster is stopped afterwards (never `ray stop`, which ends every Ray on the machine)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    head = subprocess.Popen(
        [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
         f"--port={port}", "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"],
        env=os.environ | RAY_CLIENT_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert head.poll() is None and time.monotonic() < deadline, "the Ray head did not come up"
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)


def copy_of_the_clone(root: Path) -> Path:
    """The tracked files of this checkout, without `dvc.lock`, committed in a new repository at
    ``root``: what `git clone` gives, before the first `dvc repro`."""
    tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    for name in tracked.stdout.splitlines():
        if (PROJECT_ROOT / name).is_file() and not (PROJECT_ROOT / name).is_symlink():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / name, root / name)
    (root / "dvc.lock").unlink(missing_ok=True)
    return root


def commit_all(root: Path) -> None:
    run(["git", "init", "-q"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "clone"], root)


def reduce_params(root: Path) -> None:
    """The reduced project's params: fewer patients, a 50-scan archive pretrained on for one epoch,
    fewer radiomics extractions, the study's hybrid alone for 4 epochs, 2 DL folds (the zoo's
    selection is tested on its own, in test_dl_train_cli.py)."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["synth"]["cohorts"]["synthetic-default"]["centres"] = REDUCED_CENTRES
    # Radiomics is half of the build: no second reader, and 2 perturbations per case (the fewest an
    # ICC takes) instead of 4, in a contract file of the copy's own.
    params["synth"]["cohorts"]["synthetic-default"]["second_reader"] = False
    perturbation = yaml.safe_load((root / params["radiomics"]["perturbation"]).read_text()) | {"count": 2}
    (root / REDUCED_PERTURBATION).write_text(yaml.safe_dump(perturbation, sort_keys=False))
    params["radiomics"]["perturbation"] = str(root / REDUCED_PERTURBATION)  # contracts resolve from the package
    params["synth"]["cohorts"]["synthetic-archive"]["centres"] = REDUCED_ARCHIVE
    params["dl_pretrain"]["epochs"] = 1
    params["dl_train"]["models"] = {"resnet34_vit": params["dl_train"]["models"]["resnet34_vit"]}
    params["dl_train"]["profiles"]["cpu"]["epochs"] = 4
    params["dl_train"]["min_epochs"] = 2
    params["dl_train"]["oof_folds"] = 2
    params["survival"]["bootstrap_reps"] = 50
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def model_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root/models``."""
    files = sorted(p for p in (root / "models").rglob("*") if p.is_file())
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def permute_labels(root: Path, split_name: str, seed: int) -> int:
    """Permute the outcome among the patients of one split, in the split table and in the validated
    cohort (every place a label is read from); returns how many labels changed."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    split_path = root / "data/splits/split.parquet"
    split = pq.read_table(split_path)
    members = np.flatnonzero(np.array(split.column("split").to_pylist()) == split_name)
    outcome = np.array(split.column("outcome").to_pylist(), dtype=bool)
    new = outcome.copy()
    while (new[members] == outcome[members]).all():
        new[members] = rng.permutation(outcome[members])
    split = split.set_column(split.schema.get_field_index("outcome"), "outcome", pa.array(new))
    pq.write_table(split, split_path)
    label = {pid: bool(v) for pid, v in zip(split.column("patient_id").to_pylist(), new, strict=True)}
    for cohort in (root / "data/validated").glob("*.parquet"):
        table = pq.read_table(cohort)
        column = [
            label.get(pid, old)
            for pid, old in zip(
                table.column("patient_id").to_pylist(), table.column("brain_metastasis").to_pylist(), strict=True
            )
        ]
        index = table.schema.get_field_index("brain_metastasis")
        table = table.set_column(index, table.schema.field(index), pa.array(column, pa.bool_()))
        pq.write_table(table, cohort)
    return int((new != outcome).sum())


def v1_partition(ids: list[str], cohort_id: str) -> Any:
    """Rows as v1's `sonorisk score` wrote them, under the contract file as v1 shipped it."""
    import datetime as dt

    import pyarrow as pa

    from sonorisk.risk.contract import RiskTableContract

    v1 = RiskTableContract.load(PROJECT_ROOT / "tests/golden/risk_table_v1.yaml")
    n = len(ids)
    values = {
        "patient_id": ids,
        "cohort_id": [cohort_id] * n,
        "center": ["B"] * n,
        "clinical_score": [0.0] * n,
        "rad_score": [0.0] * n,
        "radiomics_xgb_score": [0.5] * n,
        "dl_score": [0.5] * n,
        "risk": [0.3] * n,
        "risk_group": ["high"] * n,
        "threshold": [0.2] * n,
        "threshold_high_sensitivity": [0.1] * n,
        "score_note": [None] * n,
        "row_hash": [f"{i:064x}" for i in range(n)],
        "bundle_version": ["v1-old"] * n,
        "bundle_sha256": ["0" * 64] * n,
        "scored_at": [dt.datetime(2026, 11, 28, tzinfo=dt.UTC)] * n,
        "run_id": ["20261128T000000Z-00000000"] * n,
    }
    old = pa.table(values).cast(v1.schema).replace_schema_metadata(None)
    assert v1.violations(old) == []
    return old
