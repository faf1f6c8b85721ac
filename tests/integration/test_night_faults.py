"""Faults a night can bring, each with real processes: a full disk while the partition is written, a
read-only output folder, a Ray worker killed while it computes DL Scores, and a bundle changed while a
run reads it. In each, no row is lost: the partition holds the old rows or the new ones, never part."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest

from sonorisk.contracts.validate import validate_cohort
from tests.integration.project import ScoredRoot, command_env, sonorisk

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("reduced_project")]

PAGE = 4096


@contextmanager
def tmpfs(target: Path, options: str) -> Iterator[Path]:
    """A small tmpfs at ``target`` for the block; skips where this machine cannot mount one."""
    target.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN); this run is not root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def _score_args(cohort: Path, bundle: Path, root: Path, *extra: str) -> list[str]:
    return ["score", "--cohort", str(cohort), "--bundle", str(bundle), "--risk", str(root), "--quiet", *extra]


def _one_line(stderr: str) -> str:
    """sonorisk's one line (the last); Ray's own start-up log lines may come before it."""
    ours = [line for line in stderr.strip().splitlines() if line.startswith("sonorisk ")]
    assert len(ours) == 1 and stderr.strip().endswith(ours[0]), stderr
    return ours[0]


def _leftovers(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if ".tmp" in p.name or p.name == "_work"]


def _pages(size: int) -> int:
    return math.ceil(size / PAGE) * PAGE


def test_a_full_disk_while_the_partition_is_written_leaves_the_old_partition(
    reproduced: tuple[Path, str], nightly_cohort: Path, scored_root: ScoredRoot, tmp_path: Path
) -> None:
    """Last night's risk root on a small disk; tonight's run of the same file (every row unchanged, so
    it validates and rewrites the partition) finds the disk full as it writes the partition: exit 9
    with one line, the old partition byte for byte, no temporary file left."""
    project, _ = reproduced
    # What tonight's run writes before the partition: the validated rows and the quarantined ones.
    measured = tmp_path / "measured"
    validate_cohort(nightly_cohort, measured / "v.parquet", measured / "q.parquet", progress=False)
    work = _pages((measured / "v.parquet").stat().st_size) + _pages((measured / "q.parquet").stat().st_size)
    with tmpfs(tmp_path / "disk", "size=4m") as disk:
        root = scored_root.copy_to(disk / "risk")
        partition = scored_root.partition(root)
        before = partition.read_bytes()
        assert _pages(len(before)) >= 2 * PAGE  # so that one page short of it fails its write
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        (disk / "filler").write_bytes(b"\0" * (free - work - PAGE))
        tonight = sonorisk(_score_args(nightly_cohort, project / "models/bundle", root), project)
        (disk / "filler").unlink()
        assert tonight.returncode == 9, tonight.stderr
        line = _one_line(tonight.stderr)
        assert "No space left on device" in line and "partition" in line, line
        assert partition.read_bytes() == before
        assert _leftovers(root) == []


def test_a_read_only_output_folder_is_one_line_before_any_work(
    reproduced: tuple[Path, str], nightly_cohort: Path, tmp_path: Path
) -> None:
    project, _ = reproduced
    with tmpfs(tmp_path / "readonly", "ro,size=1m") as folder:
        started = time.perf_counter()
        done = sonorisk(_score_args(nightly_cohort, project / "models/bundle", folder / "risk"), project)
        seconds = time.perf_counter() - started
    assert done.returncode == 9, done.stderr
    line = _one_line(done.stderr)
    assert "cannot write to" in line and "Read-only file system" in line and "nothing was done" in line, line
    assert seconds < 30, seconds  # no validation, radiomics or Ray: the interpreter's start-up and one probe


def _pids_running(fragment: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if fragment in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _background(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sonorisk.cli", *args], cwd=cwd, env=command_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_a_ray_worker_killed_during_dl_scoring_leaves_the_same_risks(
    reproduced: tuple[Path, str], nightly_cohort: Path, scored_root: ScoredRoot, tmp_path: Path
) -> None:
    """The DL predictor actor's process is killed (SIGKILL) as it starts on the night's batch; Ray Data
    restarts it and retries the batch, and the risks equal the undisturbed run's bit for bit. The
    bundle is an unsigned copy, scored with --allow-unsigned: the run manifest records that."""
    project, _ = reproduced
    bundle = tmp_path / "unsigned"
    shutil.copytree(project / "models/bundle", bundle)
    (bundle / "signature.json").unlink()
    root = tmp_path / "killed"
    run = _background(_score_args(nightly_cohort, bundle, root, "--allow-unsigned"), project)
    _wait_for(lambda: bool(_pids_running("CpuPredictor")), run)
    victims = _pids_running("CpuPredictor")
    for pid in victims:
        os.kill(pid, signal.SIGKILL)  # raises if it had already gone: the kill happened mid-scoring
    _, stderr = run.communicate(timeout=600)
    assert run.returncode == 0, stderr[-3000:]
    assert "NOT verified" in stderr
    assert victims and not set(victims) & set(_pids_running("CpuPredictor"))
    killed = pl.read_parquet(scored_root.partition(root)).drop("run_id", "scored_at")
    assert killed.height == 11 and killed.equals(pl.read_parquet(scored_root.partition()).drop("run_id", "scored_at"))
    (manifest,) = (json.loads(p.read_text()) for p in (root / "_runs").glob("*.json"))
    assert manifest["bundle_signature"]["verified"] is False and manifest["bundle_signature"]["allowed_unsigned"]


def test_a_bundle_changed_during_a_run_stops_it_before_it_writes(
    reproduced: tuple[Path, str], nightly_cohort: Path, tmp_path: Path
) -> None:
    project, _ = reproduced
    bundle = tmp_path / "bundle"
    shutil.copytree(project / "models/bundle", bundle)
    root = tmp_path / "risk"
    run = _background(_score_args(nightly_cohort, bundle, root), project)
    _wait_for(lambda: any(root.glob("_work/*/to_score.parquet")), run)  # validated; radiomics and DL under way
    fusion = bundle / "fusion" / "fusion.json"
    model = json.loads(fusion.read_text())
    model["intercept"] += 1.0
    fusion.write_text(json.dumps(model))
    _, stderr = run.communicate(timeout=600)
    assert run.returncode == 6, stderr[-3000:]
    line = _one_line(stderr)
    assert "changed during the run" in line and "fusion/fusion.json" in line and "nothing written" in line, line
    assert not list(root.glob("cohort_id=*")) and not list(root.glob("_runs/*.json"))
    assert _leftovers(root) == []
