"""Radiomics throughput: serial pyradiomics loop vs pyradiomics' own batch CLI vs `sonorisk radiomics`.

Same 200 synthetic cases, same settings file, run in this process one after another:
  (a) a serial in-process loop (the wrapper, one case after another),
  (b) `pyradiomics cases.csv -p <settings> -j <cores> -o out.csv` (the tool users would reach for),
  (c) `sonorisk radiomics` on all cores (a local Ray cluster, started by the command),
  (c_warm) the same command against an already running cluster (`ray start --head`, RAY_ADDRESS),
       as a nightly scheduler with a standing cluster runs it.
(b), (c) and (c_warm) are timed end to end as commands, start-up included. Prints cases/s of each,
the ratio c/b and the parallel efficiency (a_time / cores) / c_time, as medians over --repeats runs.

    python benchmarks/radiomics_throughput.py [--cases 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from sonorisk.imaging.codec import decode_image, decode_mask
from sonorisk.radiomics.extract import to_sitk
from sonorisk.radiomics.fanout import extract_serial
from sonorisk.radiomics.settings import DEFAULT_SETTINGS, load_settings
from sonorisk.synthetic.generator import SynthConfig, write_synthetic_cohort

BIN = Path(sys.executable).parent


def _write_case_files(cohort: Path, folder: Path) -> Path:
    """NRRD image + mask per case (with spacing) and the CSV pyradiomics' batch mode reads."""
    import SimpleITK as sitk

    lines = ["Image,Mask"]
    for row in pq.read_table(cohort, columns=["patient_id", "image_png", "mask_png", "pixel_spacing_mm"]).to_pylist():
        image, _ = decode_image(row["image_png"])
        mask, _ = decode_mask(row["mask_png"])
        image_path, mask_path = folder / f"{row['patient_id']}_image.nrrd", folder / f"{row['patient_id']}_mask.nrrd"
        sitk.WriteImage(to_sitk(image, row["pixel_spacing_mm"]), str(image_path))
        sitk.WriteImage(to_sitk(mask, row["pixel_spacing_mm"], is_mask=True), str(mask_path))
        lines.append(f"{image_path},{mask_path}")
    cases = folder / "cases.csv"
    cases.write_text("\n".join(lines) + "\n")
    return cases


def _timed(command: list[str], ray_address: str = "") -> float:
    start = time.perf_counter()
    env = os.environ | {"RAY_ADDRESS": ray_address, "RAY_AUTH_MODE": "disabled"}
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def _ray(*args: str) -> None:
    env = os.environ | {"RAY_ADDRESS": "", "RAY_AUTH_MODE": "disabled"}
    subprocess.run([str(BIN / "ray"), *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cohort = tmp / "cohort.parquet"
        write_synthetic_cohort(
            SynthConfig(centres=[("A", args.cases)], seed=4242, second_reader=False),
            cohort,
            tmp / "truth.parquet",
            workers=args.cores,
            progress=False,
        )
        cases_csv = _write_case_files(cohort, tmp)
        settings = load_settings()
        times: dict[str, list[float]] = {"a_serial": [], "b_pyradiomics_cli": [], "c_sonorisk": [], "c_warm": []}
        for repeat in range(args.repeats):
            start = time.perf_counter()
            table = extract_serial(cohort, settings)
            times["a_serial"].append(time.perf_counter() - start)
            assert table.column("status").to_pylist().count("ok") == args.cases
            times["b_pyradiomics_cli"].append(
                _timed(
                    [
                        str(BIN / "pyradiomics"),
                        str(cases_csv),
                        "-p",
                        str(DEFAULT_SETTINGS),
                        "-j",
                        str(args.cores),
                        "-o",
                        str(tmp / "cli.csv"),
                        "-f",
                        "csv",
                    ]
                )
            )
            sonorisk = [str(BIN / "sonorisk"), "radiomics", str(cohort), "--out", str(tmp / "features.parquet")]
            times["c_sonorisk"].append(_timed(sonorisk))
            _ray(
                "start",
                "--head",
                f"--num-cpus={args.cores}",
                "--port=6391",
                "--node-ip-address=127.0.0.1",
                "--include-dashboard=false",
                "--disable-usage-stats",
            )
            try:
                times["c_warm"].append(_timed(sonorisk, ray_address="127.0.0.1:6391"))
            finally:
                _ray("stop", "--force")
            print(f"run {repeat + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), flush=True)

    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n{args.cases} cases, {args.cores} cores, medians of {args.repeats} runs")
    for name, seconds in median.items():
        print(f"  {name:20s} {seconds:7.1f} s  {args.cases / seconds:6.2f} cases/s")
    ratio = median["b_pyradiomics_cli"] / median["c_sonorisk"]
    efficiency = (median["a_serial"] / args.cores) / median["c_sonorisk"]
    warm = (median["a_serial"] / args.cores) / median["c_warm"]
    print(f"  c/b throughput ratio      {ratio:.2f}   (target >= 1.0)")
    print(f"  parallel efficiency       {efficiency:.2f}   (target >= 0.85; cluster started by the command)")
    print(f"  parallel efficiency warm  {warm:.2f}   (standing cluster reached through RAY_ADDRESS)")


if __name__ == "__main__":
    main()
