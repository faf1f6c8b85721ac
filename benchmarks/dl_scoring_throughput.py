"""DL scoring throughput: a plain PyTorch loop vs the Ray Data pipeline (`sonorisk dl-score`'s path).

Same synthetic cases, same model, same batch size, same device, in this process:
  (plain) `predict(model, crops)` over crops already decoded and cut in memory (the best case: no I/O,
          no decoding, no scheduling),
  (ray)   the Ray Data pipeline end to end: read_parquet -> decode + crop tasks -> predictor actors
          -> write_parquet, as `sonorisk dl-score` runs it: on a local Ray cluster started for the
          run (its start, ~5 s, is reported apart, not in the run's time).
The two alternate (plain, Ray, plain, Ray ...) so that drift in a shared machine's speed hits both;
the plain loop runs while no Ray cluster is up.
The device is chosen automatically: CUDA when torch sees a GPU (Ray then gives each actor one GPU),
else the CPU with all cores (the plain loop on all of torch's threads; Ray with the plan
`sonorisk dl-score` uses, printed). Prints images/s of each and the ratio ray / plain (medians of
--repeats).

The default model is the study's: the ResNet34-into-ViT hybrid at full resolution (224 px), with
untrained weights (throughput does not depend on them). --model-dir scores a trained model instead,
e.g. the demo's `models/deep` (64 px: there the fixed start of a run, ~8 s, outweighs the ~3 s
of network time on 2 cores, and the ratio says more about start-up than throughput).

    python benchmarks/dl_scoring_throughput.py [--cases 512 | --cases 512,2048] [--repeats 3] [--batch-size 64]
        [--architecture resnet34_vit --input-size 224 | --model-dir models/deep] [--actors N]
        [--json out.json] [--timeline trace.json]

--timeline writes Ray's trace (Chrome trace format: open it in chrome://tracing or Perfetto) of each
cohort's last Ray run and prints where that run's time went: when the predictor actors were built,
when the first batch reached them, how long a batch took.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import torch

from sonorisk.deep.crops import crop_cases
from sonorisk.deep.factory import create_model
from sonorisk.deep.model_io import load_card, load_model, save_model
from sonorisk.deep.train import predict
from sonorisk.synthetic.generator import SynthConfig, write_synthetic_cohort


def _model_dir(args: argparse.Namespace, scratch: Path) -> Path:
    if args.model_dir:
        if not (args.model_dir / "model_card.json").exists():
            raise SystemExit(f"{args.model_dir} holds no model (no model_card.json): run `dvc repro dl_train`")
        return Path(args.model_dir)
    folder = scratch / "model"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = create_model(args.architecture, input_size=args.input_size)
    save_model(model, folder, {"note": "benchmark: untrained weights (throughput does not depend on them)"})
    return folder


def _cohort(args: argparse.Namespace, scratch: Path, cases: int | None) -> Path:
    if args.cohort:
        return Path(args.cohort)
    path = scratch / f"cohort-{cases}.parquet"
    config = SynthConfig(centres=[("A", cases)], seed=2718, cohort_id="bench", second_reader=False)
    write_synthetic_cohort(
        config, path, scratch / f"truth-{cases}.parquet", workers=os.cpu_count() or 1, progress=False
    )
    return path


class _Plain:
    """The baseline: the model and the crops in this process, decoded and cut beforehand (not timed)."""

    def __init__(self, model_dir: Path, cohort: Path, batch_size: int, device: torch.device) -> None:
        from sonorisk.deep.preprocess import Preprocess

        rows = pq.read_table(cohort, columns=["image_png", "mask_png"]).to_pylist()
        self.crops, _ = crop_cases(rows, Preprocess(**load_card(model_dir)["preprocess"]))
        self.model, self.batch_size, self.device = load_model(model_dir, device), batch_size, device
        predict(self.model, self.crops[:batch_size], batch_size, device)  # warm-up (kernels, allocator)

    def run(self) -> float:
        start = time.perf_counter()
        predict(self.model, self.crops, self.batch_size, self.device)
        return time.perf_counter() - start


def startup_breakdown(events: list[dict[str, Any]], run_start: float, run_seconds: float) -> dict[str, float]:
    """Where one Ray run's time went, from Ray's trace events (``ray.timeline()``, times in µs since
    the epoch); seconds are counted from ``run_start`` (``time.time()`` when the run began).

    Example (two actors built from 1 s to 5 s, then two batches of 4 s each):
        >>> us = lambda s: s * 1e6
        >>> actor = "task::MapWorker(MapBatches(_CpuPredictor))"
        >>> ev = [{"ph": "X", "cat": actor + ".__init__", "ts": us(101), "dur": us(3)},
        ...       {"ph": "X", "cat": actor + ".__init__", "ts": us(101.5), "dur": us(3.5)},
        ...       {"ph": "X", "cat": actor + ".submit", "ts": us(105), "dur": us(4)},
        ...       {"ph": "X", "cat": actor + ".submit", "ts": us(105.2), "dur": us(4)},
        ...       {"ph": "X", "cat": "task::Write", "ts": us(109.3), "dur": us(0.1)}]
        >>> startup_breakdown(ev, run_start=100.0, run_seconds=10.0)["actors_ready_s"]
        5.0
    """

    def spans(method: str) -> list[tuple[float, float]]:
        return [
            (e["ts"] / 1e6 - run_start, (e["ts"] + e["dur"]) / 1e6 - run_start)
            for e in events
            if e.get("ph") == "X" and "Predictor)" in e.get("cat", "") and e["cat"].endswith(method)
        ]

    built, calls = spans(".__init__"), spans(".submit")
    if not built or not calls:
        return {}
    busy = sum(end - begin for begin, end in calls)
    return {
        "actors": len(built),
        "actors_building_from_s": min(begin for begin, _ in built),
        "actors_ready_s": max(end for _, end in built),
        "first_batch_s": min(begin for begin, _ in calls),
        "batch_calls": len(calls),
        "median_call_s": statistics.median(end - begin for begin, end in calls),
        "actor_busy_fraction": busy / (len(built) * run_seconds),
    }


def _print_breakdown(breakdown: dict[str, float], trace: Path) -> None:
    if not breakdown:
        print(f"  (no predictor actor events in Ray's trace; written anyway to {trace})")
        return
    print(
        f"  last Ray run's trace ({trace}): {breakdown['actors']:.0f} predictor actor(s) built from "
        f"{breakdown['actors_building_from_s']:.1f} s to {breakdown['actors_ready_s']:.1f} s into the run "
        f"(torch, timm, the network); first batch at {breakdown['first_batch_s']:.1f} s; "
        f"{breakdown['batch_calls']:.0f} calls, median {breakdown['median_call_s']:.1f} s; "
        f"actors scoring {100 * breakdown['actor_busy_fraction']:.0f} % of the run"
    )


def _ray_run(
    model_dir: Path, cohort: Path, args: argparse.Namespace, out: Path, trace: Path | None = None
) -> tuple[float, float, dict[str, Any], dict[str, float]]:
    """One `sonorisk dl-score` run on a cluster started for it: (start seconds, run seconds, plan,
    breakdown). With ``trace``, Ray's trace of the run is written there and summarised in breakdown."""
    import ray
    import ray.data  # imported before the clock starts, as torch is for the plain loop

    from sonorisk.deep.batch_scoring import score_cohorts
    from sonorisk.runtime import ray_session

    start = time.perf_counter()
    try:
        with ray_session():  # the cluster `sonorisk dl-score` starts, shut down on leaving
            boot = time.perf_counter() - start
            start, wall_start = time.perf_counter(), time.time()
            summary = score_cohorts(
                [cohort], model_dir, out, batch_size=args.batch_size, actors=args.actors, progress=False
            )
            seconds = time.perf_counter() - start
            breakdown: dict[str, float] = {}
            if trace is not None:  # after the clock: the trace costs the run nothing
                time.sleep(2)  # workers report task events about once a second
                events = ray.timeline()
                trace.write_text(json.dumps(events))
                breakdown = startup_breakdown(events, wall_start, seconds)
                _print_breakdown(breakdown, trace)
    finally:
        time.sleep(2)  # let the cluster's processes exit before the next plain run
    if summary["scored"] != summary["rows"]:
        raise RuntimeError(f"only {summary['scored']} of {summary['rows']} rows scored")
    return boot, seconds, summary["plan"], breakdown


def _measure(cohort: Path, model_dir: Path, args: argparse.Namespace, device: torch.device, scratch: Path) -> dict:
    n = pq.read_metadata(cohort).num_rows
    print(f"{n} cases:", flush=True)
    baseline = _Plain(model_dir, cohort, args.batch_size, device)
    plain: list[float] = []
    ray_runs: list[float] = []
    boots: list[float] = []
    plan: dict[str, Any] = {}
    breakdown: dict[str, float] = {}  # of the last run, the one traced
    for repeat in range(args.repeats):  # interleaved, so drift in the machine's speed hits both
        plain.append(baseline.run())  # no Ray running
        trace = None
        if args.timeline and repeat == args.repeats - 1:
            trace = args.timeline.with_name(f"{args.timeline.stem}-{n}{args.timeline.suffix}")
        out = scratch / f"scores-{n}-{repeat}.parquet"
        boot, seconds, plan, breakdown = _ray_run(model_dir, cohort, args, out, trace)
        boots.append(boot)
        ray_runs.append(seconds)
        print(f"  run {repeat + 1}: plain {plain[-1]:.2f} s, Ray Data {seconds:.2f} s", flush=True)
    plain_s, ray_s = statistics.median(plain), statistics.median(ray_runs)
    result = {
        "cases": n,
        "plain_seconds": plain,
        "ray_seconds": ray_runs,
        "ray_start_seconds": boots,
        "pair_ratios": [p / r for p, r in zip(plain, ray_runs, strict=True)],
        "plain_images_per_s": n / plain_s,
        "ray_images_per_s": n / ray_s,
        "ratio": plain_s / ray_s,
        "ray_plan": plan,
        "ray_last_run_breakdown": breakdown,
    }
    print(f"  plain PyTorch loop (pre-decoded)  {plain_s:7.2f} s  {n / plain_s:8.1f} images/s")
    print(f"  Ray Data pipeline (end to end)   {ray_s:7.2f} s  {n / ray_s:8.1f} images/s")
    print(f"  ratio of each interleaved pair: {[round(x, 2) for x in result['pair_ratios']]}")
    print(f"  Ray cluster start, before each Ray run (not in its time): median {statistics.median(boots):.1f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--cases",
        default="512",
        help="cases per cohort; a comma list (512,2048) also prints the marginal images/s between the "
        "smallest and largest cohort, which a run's fixed start-up does not enter",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--architecture", default="resnet34_vit", help="network to build, untrained (default: the study's)"
    )
    parser.add_argument("--input-size", type=int, default=224, help="its input size (default 224: full resolution)")
    parser.add_argument("--model-dir", type=Path, help="score this trained model instead (e.g. models/deep)")
    parser.add_argument("--actors", type=int, help="Ray scoring actors (default: dl-score's plan)")
    parser.add_argument("--cohort", type=Path, help="an existing cohort Parquet instead of --cases synthetic ones")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--timeline",
        type=Path,
        help="write Ray's trace of each cohort's last Ray run to this path, the case count added "
        "to its name (trace.json -> trace-512.json), and print when the actors were ready",
    )
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {os.cpu_count()} cores"
    with tempfile.TemporaryDirectory(prefix="dlbench-") as tmp:
        scratch = Path(tmp)
        model_dir = _model_dir(args, scratch)
        card = load_card(model_dir)
        print(
            f"model {card['architecture']} at {card['preprocess']['input_size']} px, batch {args.batch_size}, "
            f"device {name}, torch threads {torch.get_num_threads()}"
        )
        sizes = [None] if args.cohort else sorted(int(c) for c in args.cases.split(","))
        results = [_measure(_cohort(args, scratch, size), model_dir, args, device, scratch) for size in sizes]

    plan = results[-1]["ray_plan"]
    gpu = plan.get("gpus_per_actor")
    print(
        f"Ray plan: {plan.get('actors')} actor(s), "
        + (f"{gpu} GPU each" if gpu else f"{plan.get('threads_per_actor')} torch thread(s) each")
    )
    summary: dict[str, Any] = {"device": name, "architecture": card["architecture"], "batch_size": args.batch_size}
    summary |= {"input_size": card["preprocess"]["input_size"], "cohorts": results}
    if len(results) > 1:
        small, large = results[0], results[-1]
        extra = large["cases"] - small["cases"]
        plain_extra = statistics.median(large["plain_seconds"]) - statistics.median(small["plain_seconds"])
        ray_extra = statistics.median(large["ray_seconds"]) - statistics.median(small["ray_seconds"])
        summary["marginal"] = {
            "plain_images_per_s": extra / plain_extra,
            "ray_images_per_s": extra / ray_extra,
            "ratio": plain_extra / ray_extra,
            "ray_fixed_seconds": statistics.median(small["ray_seconds"]) - small["cases"] * ray_extra / extra,
        }
        print(
            f"marginal, {small['cases']} -> {large['cases']} cases: plain {extra / plain_extra:.1f} images/s, "
            f"Ray Data {extra / ray_extra:.1f} images/s, ratio {plain_extra / ray_extra:.2f}; "
            f"Ray's fixed cost per run ~{summary['marginal']['ray_fixed_seconds']:.1f} s"
        )
    for result in results:
        met = "met" if result["ratio"] >= 0.85 else "NOT met"
        target = "" if device.type == "cuda" else f"   (target >= 0.85 on CPU) -> {met}"
        print(f"ratio ray / plain, {result['cases']} cases (end to end)  {result['ratio']:5.2f}{target}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
