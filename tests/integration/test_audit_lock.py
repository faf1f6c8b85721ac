"""`python -m sonorisk.audit lock` on real git and DVC: a two-stage project whose first stage reads
something no lock records (an environment variable, standing in for the CPU a DL stage runs on).
Run as committed, the lock is reproduced; run on "another machine", the first stage is named as the
one that gave other outputs from the same inputs and the second as following it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.project import command_env, run

pytestmark = pytest.mark.dvc

DVC_YAML = """\
stages:
  weights:
    cmd: python -c "import os; open('weights.txt', 'w').write(os.environ['MACHINE'] + open('seed.txt').read())"
    deps: [seed.txt]
    outs: [weights.txt]
  report:
    cmd: python -c "open('report.txt', 'w').write(open('weights.txt').read().upper())"
    deps: [weights.txt]
    outs: [report.txt]
"""


def _audit_lock(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sonorisk.audit", "lock"], cwd=root, env=command_env(), capture_output=True, text=True
    )


def test_the_stage_that_departs_from_the_committed_lock_is_named_and_its_readers_follow(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "seed.txt").write_text("17")
    (root / "dvc.yaml").write_text(DVC_YAML)
    run(["git", "init", "-q"], root)
    run([sys.executable, "-m", "dvc", "init", "-q"], root)
    run([sys.executable, "-m", "dvc", "repro"], root, {"MACHINE": "amd"})
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "locked on one machine"], root)

    same = _audit_lock(root)
    assert same.returncode == 0, same.stderr
    assert same.stdout.splitlines() == [
        "lock: 2 of 2 stages reproduce the committed dvc.lock byte for byte",
        "lock: reproduced",
    ]

    run([sys.executable, "-m", "dvc", "repro", "--force"], root, {"MACHINE": "intel"})  # the same inputs elsewhere
    other = _audit_lock(root)
    assert other.returncode == 1, other.stderr
    lines = other.stdout.splitlines()
    assert lines[0] == "lock: 0 of 2 stages reproduce the committed dvc.lock byte for byte"
    assert "lock: weights gave other outputs from the committed inputs: weights.txt" in lines
    assert "lock: report follows (inputs another stage wrote changed: weights.txt)" in lines

    (root / "seed.txt").write_text("18")  # an edit since the commit is not a reproducibility question
    run([sys.executable, "-m", "dvc", "repro"], root, {"MACHINE": "amd"})
    edited = _audit_lock(root)
    assert edited.returncode == 1
    assert "lock: weights: inputs changed (seed.txt)" in edited.stdout.splitlines()

    run(["git", "checkout", "dvc.lock"], root)  # the committed lock back over this machine's outputs
    stale = _audit_lock(root)
    assert stale.returncode == 2 and "does not describe the outputs here" in stale.stderr, stale.stderr
    assert "run `dvc repro` first" in stale.stderr and stale.stdout == ""

    missing = subprocess.run(
        [sys.executable, "-m", "sonorisk.audit", "lock", "no-such-revision"], cwd=root, env=command_env(),
        capture_output=True, text=True,
    )  # fmt: skip
    assert missing.returncode == 2 and "cannot read both locks" in missing.stderr
