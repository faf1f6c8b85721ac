"""What the audit profile costs: radiomics and DL training under ``fast`` and ``audit``, side by side.

Both stages run as the ``sonorisk`` commands in fresh processes (a profile must be in force before
numpy and torch load), alternating fast, audit, fast, audit, ... so that drift in the machine's load
hits both alike. Radiomics extracts the project's full feature set from a synthetic cohort on Ray;
DL training trains the project's model zoo (params.yaml ``dl_train``) for a few epochs with
out-of-fold folds. Prints each run's seconds, the medians and the ratio audit / fast.

    python -m benchmarks.reproducibility_profile [--patients 120] [--epochs 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from sonorisk.cohort.split import assign_splits
from sonorisk.params import read_section
from tests.integration.reduced_pipeline import fresh_environment

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], profile: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sonorisk.cli", *command],
        cwd=ROOT,
        env=fresh_environment({}, profile),
        capture_output=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} under {profile} failed:\n{done.stderr.decode()[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=120)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="profile-cost-"))
    cohort = work / "cohort.parquet"
    subprocess.run(
        [sys.executable, "-m", "sonorisk.cli", "synth", "--n", str(args.patients), "--centres", "A,B", "--seed", "31",
         "--no-reader2", "--workers", "2", "--out", str(cohort)],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    table = pq.read_table(cohort, columns=["patient_id", "case_id", "cohort_id", "center", "brain_metastasis"])
    pq.write_table(assign_splits(table, "brain_metastasis", "A", ["B"], 0.3, seed=1), work / "split.parquet")
    dl = read_section("dl_train")
    dl["profiles"][dl["profile"]]["epochs"] = args.epochs
    dl |= {"min_epochs": 1, "patience": args.epochs, "oof_folds": 2}
    (work / "params.yaml").write_text(yaml.safe_dump({"dl_train": dl}))
    commands = {
        "radiomics": ["radiomics", str(cohort), "--out", str(work / "features.parquet")],
        "dl_train": ["dl-train", str(cohort), "--split", str(work / "split.parquet"), "--params",
                     str(work / "params.yaml"), "--out", str(work / "model"), "--oof", str(work / "oof.parquet"),
                     "--metrics", str(work / "deep.json")],
    }  # fmt: skip
    print(f"{args.patients} synthetic patients; dl_train: model zoo {list(dl['models'])}, {args.epochs} epochs")
    for stage, command in commands.items():
        seconds: dict[str, list[float]] = {"fast": [], "audit": []}
        for repeat in range(args.repeats):
            for profile in ("fast", "audit"):
                seconds[profile].append(timed(command, profile))
                print(f"{stage} run {repeat + 1} {profile}: {seconds[profile][-1]:.1f} s", flush=True)
        fast, audit = statistics.median(seconds["fast"]), statistics.median(seconds["audit"])
        print(f"{stage}: median fast {fast:.1f} s, audit {audit:.1f} s, audit / fast {audit / fast:.2f}")


if __name__ == "__main__":
    main()
