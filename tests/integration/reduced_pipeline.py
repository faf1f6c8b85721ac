"""A reduced pipeline in one process, under the profile ``SONORISK_PROFILE`` names: a small synthetic
cohort, validation, radiomics through Ray, a one-epoch DL training and DL scores, all written to OUT.

    SONORISK_PROFILE=audit python -m tests.integration.reduced_pipeline OUT

The profile is applied before anything imports numpy or torch, as the DVC stages do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from sonorisk.reproducibility import apply_profile

apply_profile(os.environ.get("SONORISK_PROFILE", "fast"))

from pathlib import Path  # noqa: E402

import yaml  # noqa: E402

# The files whose bytes the reproducibility test compares.
OUTPUTS = (
    "cohort.parquet",
    "validated.parquet",
    "radiomics.parquet",
    "model/fold_1.safetensors",
    "model/fold_2.safetensors",
    "oof.parquet",
    "dl.parquet",
)
TINY_DL = {
    "profile": "cpu",
    "profiles": {"cpu": {"input_size": 32, "epochs": 1, "batch_size": 8}},
    "models": {"resnet34_vit": {"stride": 16, "embed_dim": 32, "depth": 1, "num_heads": 2}},
    "crop_margin": 0.5,
    "lr": 0.001,
    "weight_decay": 0.05,
    "patience": 4,
    "min_epochs": 1,
    "oof_folds": 2,
    "seed": 5,
    "threads": 2,
    "init_weights": None,
}


# What an AVX2 (x86-64-v3) machine offers, as each library's own switch expresses it: how a test
# on an AVX-512 host stands in for another, older machine.
AVX2_HOST = {
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_CBWR": "AVX2",
    "OPENBLAS_CORETYPE": "Haswell",
}


def fresh_environment(caps: dict[str, str], profile: str) -> dict[str, str]:
    """This process's environment with ``caps`` instead of any cap it had, ``profile`` named, and no
    Ray address (a child starts a local cluster of its own)."""
    from sonorisk.reproducibility import PROFILE_VARIABLE, profile_environment

    dropped = {*profile_environment("audit", {}), PROFILE_VARIABLE, "RAY_ADDRESS"}
    return {k: v for k, v in os.environ.items() if k not in dropped} | caps | {PROFILE_VARIABLE: profile}


def start_fresh(
    out: Path, caps: dict[str, str], profile: str, preexec_fn: Callable[[], None] | None = None
) -> subprocess.Popen[str]:
    """Start the reduced pipeline in a fresh interpreter, under ``caps`` and ``profile``; what it
    prints goes to ``out.log`` (a file, so that several can run at once without filling a pipe)."""
    env = fresh_environment(caps, profile) | {"PYTHONHASHSEED": "0"}
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.with_suffix(".log").open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.integration.reduced_pipeline", str(out)],
            cwd=Path(__file__).resolve().parents[2], env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
            preexec_fn=preexec_fn,
        )  # fmt: skip


def finish(process: subprocess.Popen[str], out: Path) -> subprocess.CompletedProcess[str]:
    """Wait for a run ``start_fresh`` began (at most 15 minutes); its output is in ``stdout``."""
    try:
        process.wait(timeout=900)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    printed = out.with_suffix(".log").read_text()
    return subprocess.CompletedProcess(process.args, process.returncode, printed, printed)


def run_fresh(out: Path, caps: dict[str, str], profile: str) -> subprocess.CompletedProcess[str]:
    """The reduced pipeline in a fresh interpreter, under ``caps`` and ``profile``."""
    return finish(start_fresh(out, caps, profile), out)


def run(out: Path) -> None:
    import pyarrow.parquet as pq

    from sonorisk.cli import main
    from sonorisk.cohort.split import assign_splits

    out.mkdir(parents=True, exist_ok=True)
    cohort, valid = out / "cohort.parquet", out / "validated.parquet"
    steps = [
        ["synth", "--centres", "A=36,B=8", "--seed", "17", "--cohort-id", "reduced", "--no-reader2",
         "--workers", "1", "--out", str(cohort)],
        ["validate", str(cohort), "--valid", str(valid), "--quarantine", str(out / "quarantine.parquet"),
         "--summary", str(out / "validation.json"), "--docs", str(out / "docs"), "--run-date", "2026-12-01"],
    ]  # fmt: skip
    for step in steps:
        _check(main(step), step[0])
    table = pq.read_table(valid, columns=["patient_id", "case_id", "cohort_id", "center", "brain_metastasis"])
    pq.write_table(assign_splits(table, "brain_metastasis", "A", ["B"], 0.4, seed=1), out / "split.parquet")
    (out / "params.yaml").write_text(yaml.safe_dump({"dl_train": TINY_DL}))
    steps = [
        ["radiomics", str(valid), "--out", str(out / "radiomics.parquet")],
        ["dl-train", str(valid), "--split", str(out / "split.parquet"), "--params", str(out / "params.yaml"),
         "--out", str(out / "model"), "--oof", str(out / "oof.parquet"), "--metrics", str(out / "deep.json")],
        ["dl-score", str(valid), "--model", str(out / "model"), "--out", str(out / "dl.parquet")],
    ]  # fmt: skip
    for step in steps:
        _check(main(step), step[0])


def _check(code: int, step: str) -> None:
    if code != 0:
        raise SystemExit(f"reduced pipeline: {step} exited {code}")


if __name__ == "__main__":
    run(Path(sys.argv[1]))
