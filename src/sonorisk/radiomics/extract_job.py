"""The radiomics extraction job (DVC stage ``radiomics``): pyradiomics features of every validated
row as Ray tasks, and for the robustness screens of the training cases: each case under a few seeded
image perturbations (every study), and the second reader's masks (only where a cohort has them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sonorisk import paths
from sonorisk.atomic_file import write_json
from sonorisk.cohort.split import TRAINING
from sonorisk.parquet_stream import open_for_streaming
from sonorisk.radiomics.extract import feature_names
from sonorisk.radiomics.fanout import extract_with_ray
from sonorisk.radiomics.feature_table import feature_schema, write_feature_table
from sonorisk.radiomics.perturbation import PerturbationSettings
from sonorisk.radiomics.settings import RadiomicsSettings
from sonorisk.runtime import ray_session


def _with_second_reader(cohort: Path, training: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Training cases of ``cohort`` that carry a second reader's mask (none for most real cohorts)."""
    if "mask_reader2_png" not in pq.read_schema(cohort).names:
        return set()
    found = set()
    for batch in open_for_streaming(cohort).iter_batches(columns=["cohort_id", "patient_id", "mask_reader2_png"]):
        for row in batch.to_pylist():
            key = (row["cohort_id"], row["patient_id"])
            if key in training and row["mask_reader2_png"]:
                found.add(key)
    return found


def run_extraction(
    cohorts: Sequence[Path],
    split_file: Path,
    settings: RadiomicsSettings,
    perturbation: PerturbationSettings,
    cases_per_task: int,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Extract, write the three feature tables and the extraction metrics; returns the metrics."""
    split = pq.read_table(split_file, columns=["cohort_id", "patient_id", "split"]).to_pylist()
    training = {(r["cohort_id"], r["patient_id"]) for r in split if r["split"] == TRAINING}
    names = feature_names(settings.params)
    tables: dict[str, list[pa.Table]] = {"reader1": [], "reader2": [], "perturbed": []}
    seconds: dict[str, float] = {}
    with ray_session(defer=True) as ensure_ray:
        start = time.perf_counter()
        for cohort in cohorts:
            run = extract_with_ray(cohort, settings, cases_per_task=cases_per_task, ensure_ray=ensure_ray)
            tables["reader1"].append(run.table)
        seconds["reader1"] = time.perf_counter() - start
        start = time.perf_counter()
        for cohort in cohorts:
            run = extract_with_ray(
                cohort,
                settings,
                keep=lambda row: (row["cohort_id"], row["patient_id"]) in training,
                cases_per_task=cases_per_task,
                perturbation=perturbation,
            )
            tables["perturbed"].append(run.table)
        seconds["perturbed"] = time.perf_counter() - start
        start = time.perf_counter()
        for cohort in cohorts:
            read_twice = _with_second_reader(cohort, training)
            if read_twice:
                run = extract_with_ray(
                    cohort,
                    settings,
                    mask_column="mask_reader2_png",
                    keep=lambda row, keys=read_twice: (row["cohort_id"], row["patient_id"]) in keys,  # type: ignore[misc]
                    cases_per_task=cases_per_task,
                )
                tables["reader2"].append(run.table)
        seconds["reader2"] = time.perf_counter() - start
    features = pa.concat_tables(tables["reader1"])
    second = pa.concat_tables(tables["reader2"]) if tables["reader2"] else feature_schema(names).empty_table()
    perturbed = pa.concat_tables(tables["perturbed"])
    write_feature_table(features, paths.RADIOMICS_FEATURES, settings)
    write_feature_table(second, paths.READER2_FEATURES, settings)
    write_feature_table(perturbed, paths.PERTURBED_FEATURES, settings, {"perturbation": perturbation.as_dict()})
    status = features.column("status").to_pylist()
    summary = {
        "cases": len(status),
        "ok": status.count("ok"),
        "failed": len(status) - status.count("ok"),
        "reader2_cases": second.num_rows,
        "perturbed_cases": perturbed.num_rows,
        "perturbations_per_training_case": perturbation.count,
        "features_per_case": len(names),
        "settings_sha256": settings.sha256,
    }
    write_json(paths.metrics_file("radiomics_extraction"), summary, sort_keys=False)
    done = summary["cases"] + summary["reader2_cases"] + summary["perturbed_cases"]
    rate = done / max(sum(seconds.values()), 1e-9)
    reader2 = f"{summary['reader2_cases']} second-reader cases" if second.num_rows else "no second reader"
    log(
        f"radiomics: {summary['ok']} ok, {summary['failed']} failed, {summary['perturbed_cases']} perturbed "
        f"extractions ({perturbation.count} per training case), {reader2}, {len(names)} features, {rate:.2f} cases/s"
    )
    return summary
