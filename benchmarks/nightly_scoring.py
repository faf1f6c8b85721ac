"""Nightly scoring with full radiomics extraction (the baseline) vs bundle-driven extraction.

The same cohort is scored by ``sonorisk score`` (a fresh process and a fresh output root each time,
so nothing is cached and each run starts its own local Ray cluster), alternating full and
bundle-driven runs so the machine's noise falls on both alike. Per run: wall seconds of the
command, the stage seconds from its run manifest, and its peak memory: the summed PSS of the
command and every process it started (Ray's GCS, raylet and workers), sampled every 0.5 s.
Prints every run, the median per mode and stage, and the ratios full / bundle-driven.

    python benchmarks/nightly_scoring.py --patients 1000 --repeats 2
    python benchmarks/nightly_scoring.py --patients 10000 --repeats 1 --modes bundle

A cohort of ``--patients`` new patients from centre B (unlabelled, one reader) is drawn once with
``sonorisk synth`` into ``--work`` and reused; ``--cohort`` scores a given file instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from sonorisk.signing import demo_key_path

# The bundles scored here are built on this machine by `dvc repro`: signed with its demo key unless
# SONORISK_SIGNING_KEY named the study's, whose public key SONORISK_TRUSTED_KEYS then names.
os.environ.setdefault("SONORISK_TRUSTED_KEYS", str(demo_key_path().with_suffix(".pub")))

STAGES = ("validate", "radiomics", "dl_score", "fusion", "write", "total")


def _tree(root: int) -> list[int]:
    """``root`` and every descendant, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _pss_mb(pids: list[int]) -> float:
    total_kb = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
                    break
        except OSError:
            continue  # the process ended between listing and reading
    return total_kb / 1024


def run_once(cohort: Path, bundle: Path, out: Path, mode: str) -> dict[str, float]:
    """One ``sonorisk score`` run; wall seconds, stage seconds and peak summed PSS (MB)."""
    shutil.rmtree(out, ignore_errors=True)
    command = [
        sys.executable, "-m", "sonorisk.cli", "score", "--cohort", str(cohort), "--bundle", str(bundle),
        "--out", str(out), "--no-progress", "--extraction", mode,
    ]  # fmt: skip
    peak = 0.0
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _pss_mb(_tree(process.pid)))
            done.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode:
        raise SystemExit(f"sonorisk score ({mode}) failed:\n{stderr[-2000:]}")
    manifest = json.loads(next((out / "_runs").glob("*.json")).read_text())
    shutil.rmtree(out, ignore_errors=True)
    return {"wall": wall, "peak_mb": peak, "rows": manifest["counts"]["rows_in"]} | {
        stage: float(manifest["seconds"].get(stage, 0.0)) for stage in STAGES
    }


def _cohort(args: argparse.Namespace) -> Path:
    if args.cohort:
        return Path(args.cohort)
    path = args.work / f"nightly-B-{args.patients}-seed{args.seed}.parquet"
    if not path.is_file():
        args.work.mkdir(parents=True, exist_ok=True)
        synth = [
            sys.executable, "-m", "sonorisk.cli", "synth", "--n", str(args.patients), "--centres", "B",
            "--no-labels", "--no-reader2", "--seed", str(args.seed), "--cohort-id", f"nightly-{args.patients}",
            "--out", str(path), "--workers", str(os.cpu_count() or 1),
        ]  # fmt: skip
        subprocess.run(synth, check=True)
    return path


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=1000, help="size of the drawn cohort (default 1000)")
    parser.add_argument("--cohort", help="score this cohort file instead of drawing one")
    parser.add_argument("--bundle", type=Path, default=Path("models/bundle"), help="bundle (default models/bundle)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per mode (default 2)")
    parser.add_argument("--modes", default="full,bundle", help="comma-separated: full, bundle (default both)")
    parser.add_argument("--seed", type=int, default=4711, help="seed of the drawn cohort")
    parser.add_argument("--work", type=Path, default=Path("build/benchmarks"), help="cohorts and scratch outputs")
    parser.add_argument("--json", type=Path, help="also write every run and the medians here")
    args = parser.parse_args()

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    cohort = _cohort(args)
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    print(f"cohort {cohort}; bundle {args.bundle}; {os.cpu_count()} cores; modes alternate {modes}")
    for repeat in range(args.repeats):
        for mode in modes:
            result = run_once(cohort, args.bundle, args.work / "risk", mode)
            runs[mode].append(result)
            stages = "  ".join(f"{s} {result[s]:.1f}" for s in STAGES)
            print(
                f"run {repeat + 1} {mode:<6} wall {_minutes(result['wall'])}  peak {result['peak_mb'] / 1024:.2f} GiB  "
                f"({stages})",
                flush=True,
            )

    keys = (*STAGES, "wall", "peak_mb")
    medians = {m: {k: statistics.median(r[k] for r in rs) for k in keys} for m, rs in runs.items()}
    print(f"\nmedians over {args.repeats} runs, {int(runs[modes[0]][0]['rows'])} patients (seconds):")
    print(f"{'mode':<8}" + "".join(f"{s:>11}" for s in (*STAGES, "wall")) + f"{'peak GiB':>10}")
    for mode, values in medians.items():
        print(
            f"{mode:<8}"
            + "".join(f"{values[s]:>11.1f}" for s in (*STAGES, "wall"))
            + f"{values['peak_mb'] / 1024:>10.2f}"
        )
    if {"full", "bundle"} <= set(medians):
        full, narrowed = medians["full"], medians["bundle"]
        print(
            f"ratio full / bundle-driven: radiomics {full['radiomics'] / narrowed['radiomics']:.2f}, "
            f"command wall {full['wall'] / narrowed['wall']:.2f}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"cohort": str(cohort), "runs": runs, "medians": medians}, indent=2) + "\n")


if __name__ == "__main__":
    main()
