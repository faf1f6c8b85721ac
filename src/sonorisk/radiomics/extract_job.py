"""The radiomics extraction job (DVC stage ``radiomics``): pyradiomics features of every validated
row as Ray tasks, plus the second reader's masks on training cases for the robustness (ICC) screen.
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
from sonorisk.radiomics.fanout import META_COLUMNS, extract_with_ray, write_feature_table
from sonorisk.radiomics.settings import RadiomicsSettings
from sonorisk.runtime import ray_session


def run_extraction(
    cohorts: Sequence[Path],
    split_file: Path,
    settings: RadiomicsSettings,
    cases_per_task: int,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Extract, write both feature tables and the extraction metrics; returns the metrics."""
    split = pq.read_table(split_file, columns=["cohort_id", "patient_id", "split"]).to_pylist()
    training = {(r["cohort_id"], r["patient_id"]) for r in split if r["split"] == TRAINING}
    reader1, reader2, seconds = [], [], {}
    with ray_session(defer=True) as ensure_ray:
        start = time.perf_counter()
        for cohort in cohorts:
            run = extract_with_ray(cohort, settings, cases_per_task=cases_per_task, ensure_ray=ensure_ray)
            reader1.append(run.table)
        seconds["reader1"] = time.perf_counter() - start
        start = time.perf_counter()
        for cohort in cohorts:
            run = extract_with_ray(
                cohort,
                settings,
                mask_column="mask_reader2_png",
                keep=lambda row: (row["cohort_id"], row["patient_id"]) in training,
                cases_per_task=cases_per_task,
            )
            reader2.append(run.table)
        seconds["reader2"] = time.perf_counter() - start
    features, second = pa.concat_tables(reader1), pa.concat_tables(reader2)
    write_feature_table(features, paths.RADIOMICS_FEATURES, settings)
    write_feature_table(second, paths.READER2_FEATURES, settings)
    status = features.column("status").to_pylist()
    summary = {
        "cases": len(status),
        "ok": status.count("ok"),
        "failed": len(status) - status.count("ok"),
        "reader2_cases": second.num_rows,
        "features_per_case": features.num_columns - len(META_COLUMNS),
        "settings_sha256": settings.sha256,
    }
    write_json(paths.metrics_file("radiomics_extraction"), summary, sort_keys=False)
    rate = (summary["cases"] + summary["reader2_cases"]) / max(sum(seconds.values()), 1e-9)
    log(
        f"radiomics: {summary['ok']} ok, {summary['failed']} failed, {summary['reader2_cases']} second-reader cases, "
        f"{summary['features_per_case']} features, {rate:.2f} cases/s"
    )
    return summary
