"""Estimated (CBPE, before outcomes) against realised AUC on synthetic nightly cohorts.

Draws one unlabelled cohort per spec with ``sonorisk synth`` (centres A, B, C, D and a mix by
default, 1,000 patients each, their own seeds), scores each with ``sonorisk score`` and the bundle
into one risk root, then realises every run with the outcomes from the cohorts' truth files
(``sonorisk runs realise``) and prints, per run and centre, the estimated AUC [interval], the
realised AUC [DeLong CI] and the absolute difference. The issue's target: |estimated - realised| <=
0.03 on the fused risk of each cohort.

    python benchmarks/estimated_performance.py --bundle models/bundle --n 1000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import polars as pl

from sonorisk.signing import demo_key_path

# The bundles scored here are built on this machine by `dvc repro`: signed with its demo key unless
# SONORISK_SIGNING_KEY named the study's, whose public key SONORISK_TRUSTED_KEYS then names.
os.environ.setdefault("SONORISK_TRUSTED_KEYS", str(demo_key_path().with_suffix(".pub")))

SPECS = {"A": "A", "B": "B", "C": "C", "D": "D", "mix": "A,B,C,D"}


def _sonorisk(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "sonorisk.cli", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"sonorisk {args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=Path("models/bundle"), help="the frozen bundle")
    parser.add_argument("--n", type=int, default=1000, help="patients per cohort")
    parser.add_argument("--work", type=Path, default=Path("build/estimated-performance"), help="scratch folder")
    parser.add_argument("--cohorts", default=",".join(SPECS), help=f"which of {', '.join(SPECS)}")
    args = parser.parse_args()
    root = args.work / "risk"
    labels = []
    for index, name in enumerate(args.cohorts.split(",")):
        cohort = args.work / f"{name}.parquet"
        if not cohort.is_file():
            _sonorisk("synth", "--n", str(args.n), "--centres", SPECS[name], "--seed", str(7100 + index),
                      "--no-labels", "--no-reader2", "--cohort-id", f"estimate-{name}", "--out", str(cohort),
                      "--quiet")  # fmt: skip
            _sonorisk("score", "--cohort", str(cohort), "--bundle", str(args.bundle), "--risk", str(root), "--quiet")
        truth = pl.read_parquet(cohort.with_name(f"{name}.truth.parquet"))
        labels.append(truth.select("cohort_id", "patient_id", "brain_metastasis", "followup_months"))
    pl.concat(labels).write_parquet(args.work / "labels.parquet")
    _sonorisk("runs", "realise", "--labels", str(args.work / "labels.parquet"), "--risk", str(root))
    history = (
        pl.read_parquet(root / "_realised" / "realised.parquet")
        .sort("realised_at")
        .group_by("run_id", "group", maintain_order=True)
        .last()
    )
    runs = pl.read_parquet(root / "_runs" / "runs.parquet").select("run_id", "cohort_id")
    table = history.join(runs, on="run_id").with_columns(
        (pl.col("estimated_auc") - pl.col("auc")).abs().alias("abs_difference")
    )
    shown = table.select(
        "cohort_id", "group", "rows", "events", "estimated_auc", "estimated_auc_low", "estimated_auc_high",
        "auc", "auc_low", "auc_high", "abs_difference", "expected_prevalence", "prevalence",
    ).sort("cohort_id", "group")  # fmt: skip
    with pl.Config(tbl_rows=100, tbl_cols=-1, float_precision=3, tbl_width_chars=250):
        print(shown)
    fused = shown.filter(pl.col("group") == "all")
    worst = fused["abs_difference"].max()
    print(f"worst |estimated - realised| over the {fused.height} cohorts (all rows): {worst:.3f} (target 0.03)")


if __name__ == "__main__":
    main()
