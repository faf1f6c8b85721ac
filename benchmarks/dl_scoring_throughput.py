"""DL scoring throughput: a plain PyTorch loop vs the Ray Data pipeline (`sonorisk dl-score`'s path).

Same synthetic cases, same model, same batch size, same device, in this process:
  (plain) `predict(model, crops)` over crops already decoded and cut in memory (the best case: no I/O,
          no decoding, no scheduling),
  (ray)   the Ray Data pipeline end to end: read_parquet -> decode + crop tasks -> predictor actors
          -> write_parquet, against a Ray cluster started once before the timed runs (the start is
          reported separately).
The device is chosen automatically: CUDA when torch sees a GPU (Ray then gives each actor one GPU),
else the CPU with all cores. Prints images/s of each and the ratio ray / plain (medians of --repeats).

    python benchmarks/dl_scoring_throughput.py [--cases 512] [--repeats 3] [--batch-size 64]
        [--model-dir models/deep | --architecture resnet34 --input-size 224] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import torch

from sonorisk.cohort.synth import SynthConfig, write_synthetic_cohort
from sonorisk.deep.data import crop_cases
from sonorisk.deep.model_io import load_card, load_model, save_model
from sonorisk.deep.registry import create_model
from sonorisk.deep.train import predict


def _model_dir(args: argparse.Namespace, scratch: Path) -> Path:
    if args.input_size is None and (args.model_dir / "model_card.json").exists():
        return Path(args.model_dir)
    folder = scratch / "model"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = create_model(args.architecture, input_size=args.input_size or 64)
    save_model(model, folder, {"note": "benchmark: untrained weights (throughput does not depend on them)"})
    return folder


def _cohort(args: argparse.Namespace, scratch: Path) -> Path:
    if args.cohort:
        return Path(args.cohort)
    path = scratch / "cohort.parquet"
    config = SynthConfig(centres=[("A", args.cases)], seed=2718, cohort_id="bench", second_reader=False)
    write_synthetic_cohort(config, path, scratch / "truth.parquet", workers=os.cpu_count() or 1, progress=False)
    return path


def _plain(model_dir: Path, cohort: Path, batch_size: int, device: torch.device, repeats: int) -> list[float]:
    card = load_card(model_dir)
    rows = pq.read_table(cohort, columns=["image_png", "mask_png"]).to_pylist()
    from sonorisk.deep.preprocess import Preprocess

    crops, _ = crop_cases(rows, Preprocess(**card["preprocess"]))  # decoded beforehand: not timed
    model = load_model(model_dir, device)
    predict(model, crops[:batch_size], batch_size, device)  # warm-up (kernels, allocator)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict(model, crops, batch_size, device)
        seconds.append(time.perf_counter() - start)
    return seconds


def _ray(model_dir: Path, cohort: Path, batch_size: int, repeats: int, scratch: Path) -> tuple[float, list[float]]:
    import ray

    from sonorisk.deep.batch_scoring import score_cohorts

    os.environ.setdefault("RAY_enable_metrics_collection", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    start = time.perf_counter()
    ray.init(address="local", include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    boot = time.perf_counter() - start
    seconds = []
    try:
        for repeat in range(repeats):
            start = time.perf_counter()
            summary = score_cohorts([cohort], model_dir, scratch / f"scores-{repeat}", batch_size=batch_size)
            seconds.append(time.perf_counter() - start)
            if summary["scored"] != summary["rows"]:
                raise RuntimeError(f"only {summary['scored']} of {summary['rows']} rows scored")
    finally:
        ray.shutdown()
    return boot, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--model-dir", type=Path, default=Path("models/deep"), help="the model, when it holds one")
    parser.add_argument("--architecture", default="resnet34", help="otherwise (or with --input-size): untrained")
    parser.add_argument("--input-size", type=int, help="build --architecture at this size (224: full resolution)")
    parser.add_argument("--cohort", type=Path, help="an existing cohort Parquet instead of --cases synthetic ones")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with tempfile.TemporaryDirectory(prefix="dlbench-") as tmp:
        scratch = Path(tmp)
        cohort, model_dir = _cohort(args, scratch), _model_dir(args, scratch)
        n = pq.ParquetFile(cohort).metadata.num_rows
        card = load_card(model_dir)
        name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {os.cpu_count()} cores"
        print(
            f"{n} cases, model {card['architecture']} at {card['preprocess']['input_size']} px, "
            f"batch {args.batch_size}, device {name}, torch threads {torch.get_num_threads()}"
        )
        plain = _plain(model_dir, cohort, args.batch_size, device, args.repeats)
        boot, ray_runs = _ray(model_dir, cohort, args.batch_size, args.repeats, scratch)

    plain_ips, ray_ips = n / statistics.median(plain), n / statistics.median(ray_runs)
    ratio = ray_ips / plain_ips
    print(f"plain PyTorch loop (pre-decoded)  {statistics.median(plain):7.2f} s  {plain_ips:8.1f} images/s")
    print(f"Ray Data pipeline (end to end)   {statistics.median(ray_runs):7.2f} s  {ray_ips:8.1f} images/s")
    print(f"  runs: plain {[round(s, 2) for s in plain]}, ray {[round(s, 2) for s in ray_runs]}")
    print(f"  Ray cluster start (not in the runs above): {boot:.1f} s")
    target = "" if device.type == "cuda" else f"   (target >= 0.85 on CPU) -> {'met' if ratio >= 0.85 else 'NOT met'}"
    print(f"ratio ray / plain                 {ratio:7.2f}{target}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "cases": n,
                    "device": name,
                    "architecture": card["architecture"],
                    "input_size": card["preprocess"]["input_size"],
                    "batch_size": args.batch_size,
                    "plain_seconds": plain,
                    "ray_seconds": ray_runs,
                    "ray_start_seconds": boot,
                    "plain_images_per_s": plain_ips,
                    "ray_images_per_s": ray_ips,
                    "ratio": ratio,
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
