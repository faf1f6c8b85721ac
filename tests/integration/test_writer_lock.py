"""One writer per risk root (issue 18): a second `sonorisk score` on the same --out waits for the
first (or, with --no-wait, exits 3 naming it); a run killed while holding the lock leaves none behind.
Real processes, the reduced project's bundle."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.project import ScoredRoot, command_env, sonorisk

pytestmark = [pytest.mark.dvc, pytest.mark.slow, pytest.mark.xdist_group("reduced_project")]


def _holder_of(root: Path, timeout: float = 120.0) -> dict:
    """The run named in ``root``'s writer lock file, once one holds it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            info = json.loads((root / "_writer.lock").read_text() or "{}")
        except (OSError, ValueError):
            info = {}
        if info:
            return info
        time.sleep(0.05)
    raise AssertionError(f"no run took {root}'s writer lock within {timeout} s")


def test_one_writer_per_risk_root_a_second_run_waits_or_exits_3(
    reproduced: tuple[Path, str], nightly_cohort: Path, tmp_path: Path
) -> None:
    project, _ = reproduced
    out = tmp_path / "risk"
    args = ["score", "--cohort", str(nightly_cohort), "--bundle", str(project / "models/bundle"), "--out", str(out)]
    env = command_env()
    command = [sys.executable, "-m", "sonorisk.cli", *args, "--no-progress"]
    first = subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    holder = _holder_of(out)
    assert holder["pid"] == first.pid

    refused = sonorisk([*args, "--no-wait"], project)  # while the first run scores
    assert first.poll() is None, "the first run ended before the second was tried: nothing was concurrent"
    assert refused.returncode == 3, refused.stderr
    line = refused.stderr.strip()
    assert len(line.splitlines()) == 1 and holder["run_id"] in line and f"pid {first.pid}" in line, line

    waiting = subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, first_err = first.communicate(timeout=600)
    second_out, second_err = waiting.communicate(timeout=600)
    assert first.returncode == 0, first_err
    assert waiting.returncode == 0, second_err
    assert f"waiting: another run writes here: {holder['run_id']}" in second_out

    # Serialised, not interleaved: the waiting run found the first one's partition and reused every row,
    # so each manifest claims exactly what its own run wrote.
    manifests = sorted(
        (json.loads(p.read_text()) for p in (out / "_runs").glob("*.json")), key=lambda m: m["scored_at"]
    )
    assert len(manifests) == 2 and manifests[0]["run_id"] == holder["run_id"]
    assert manifests[0]["counts"]["newly_scored"] == 11 and manifests[0]["counts"]["cached"] == 0
    assert manifests[1]["counts"]["newly_scored"] == 0 and manifests[1]["counts"]["cached"] == 11


_HOLD_LOCK = """
import sys, time
from pathlib import Path
from sonorisk.risk.writer_lock import writer_lock
with writer_lock(Path(sys.argv[1]), "doomed-run"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_run_killed_while_holding_the_lock_leaves_no_lock_behind(
    reproduced: tuple[Path, str], nightly_cohort: Path, scored_root: ScoredRoot, tmp_path: Path
) -> None:
    project, _ = reproduced
    out = scored_root.copy_to(tmp_path / "risk")  # already scored: the run after the kill reuses every row
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(out)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    args = ["score", "--cohort", str(nightly_cohort), "--bundle", str(project / "models/bundle"), "--out", str(out)]
    busy = sonorisk([*args, "--no-wait", "--no-progress"], project)
    assert busy.returncode == 3 and "doomed-run" in busy.stderr, busy.stderr
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert "doomed-run" in (out / "_writer.lock").read_text()  # the file stays; the kernel lock went with the process
    after = sonorisk([*args, "--no-wait", "--no-progress"], project)
    assert after.returncode == 0, after.stderr
    latest = max((out / "_runs").glob("*.json"), key=lambda p: p.stat().st_mtime)
    assert json.loads(latest.read_text())["counts"]["cached"] == 11
