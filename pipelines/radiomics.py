"""DVC stage `radiomics`: pyradiomics features of every validated row (Ray tasks), plus the second
reader's masks on training cases for the robustness (ICC) screen."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.params import stage_params
from sonorisk.paths import PROJECT_ROOT
from sonorisk.radiomics.fanout import META_COLUMNS, extract_with_ray, write_feature_table
from sonorisk.radiomics.settings import load_settings
from sonorisk.runtime import ray_session


def main() -> None:
    params = stage_params("radiomics")
    settings = load_settings(PROJECT_ROOT / params["settings"])
    split = pq.read_table("data/splits/split.parquet", columns=["cohort_id", "patient_id", "split"]).to_pylist()
    training = {(r["cohort_id"], r["patient_id"]) for r in split if r["split"] == "training"}
    cohorts = sorted(Path("data/validated").glob("*.parquet"))
    reader1, reader2, seconds = [], [], {}
    with ray_session(defer=True) as ensure_ray:
        start = time.perf_counter()
        for cohort in cohorts:
            run = extract_with_ray(cohort, settings, cases_per_task=params["cases_per_task"], ensure_ray=ensure_ray)
            reader1.append(run.table)
        seconds["reader1"] = time.perf_counter() - start
        start = time.perf_counter()
        for cohort in cohorts:
            run = extract_with_ray(
                cohort,
                settings,
                mask_column="mask_reader2_png",
                keep=lambda row: (row["cohort_id"], row["patient_id"]) in training,
                cases_per_task=params["cases_per_task"],
            )
            reader2.append(run.table)
        seconds["reader2"] = time.perf_counter() - start
    features, second = pa.concat_tables(reader1), pa.concat_tables(reader2)
    write_feature_table(features, Path("data/features/radiomics.parquet"), settings)
    write_feature_table(second, Path("data/features/radiomics_reader2.parquet"), settings)
    status = features.column("status").to_pylist()
    summary = {
        "cases": len(status),
        "ok": status.count("ok"),
        "failed": len(status) - status.count("ok"),
        "reader2_cases": second.num_rows,
        "features_per_case": features.num_columns - len(META_COLUMNS),
        "settings_sha256": settings.sha256,
    }
    Path("reports/metrics").mkdir(parents=True, exist_ok=True)
    Path("reports/metrics/radiomics_extraction.json").write_text(json.dumps(summary, indent=2) + "\n")
    rate = (summary["cases"] + summary["reader2_cases"]) / max(sum(seconds.values()), 1e-9)
    print(
        f"radiomics: {summary['ok']} ok, {summary['failed']} failed, {summary['reader2_cases']} second-reader cases, "
        f"{summary['features_per_case']} features, {rate:.2f} cases/s"
    )


if __name__ == "__main__":
    main()
