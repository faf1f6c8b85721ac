"""DVC stage `validate@<name>`: one cohort of the study through the data contracts."""

from __future__ import annotations

import datetime as dt
import sys

from sonorisk import paths
from sonorisk.atomic_file import write_json
from sonorisk.contracts.validate import ValidateParams, validate_cohort, write_summary
from sonorisk.gates import StudyError, run_stage
from sonorisk.params import stage_params


def main(name: str) -> None:
    run_date = stage_params("validate", ValidateParams).run_date
    if not run_date:
        # The wall clock would make the outputs (and which rows count as "in the future") depend on
        # the day `dvc repro` runs; the study records the date instead.
        raise StudyError(
            "validate.run_date is null: the pipeline judges 'not in the future' against a date the study "
            "records, never the day it runs; set it in params.yaml to the day the cohorts were delivered "
            "(docs/reproducibility.md)"
        )
    cohort = paths.cohort_file(name)
    if not cohort.is_file():
        raise StudyError(
            f"{cohort} does not exist: study.cohorts names '{name}'; ingest it there and `dvc add` it "
            "(docs/own-study.md), or mark it `synthetic`"
        )
    summary = validate_cohort(
        cohort,
        paths.VALIDATED_DIR / f"{name}.parquet",
        paths.QUARANTINE_DIR / f"{name}.parquet",
        docs_dir=paths.validation_dir(name) / "data_docs",
        run_date=dt.date.fromisoformat(str(run_date)),
        progress=False,
    )
    write_summary(summary, paths.validation_dir(name) / "summary.json")
    totals = {
        "rows_in": summary.rows_in,
        "rows_valid": summary.rows_valid,
        "rows_quarantined": summary.rows_quarantined,
    }
    write_json(paths.validation_metrics(name), totals)
    print(
        f"validate {name}: {summary.rows_in} in = {summary.rows_valid} valid + {summary.rows_quarantined} quarantined"
    )
    if summary.rows_valid == 0:
        rules = ", ".join(f"{rule} ({n})" for rule, n in summary.report["reasons_by_rule"].items())
        raise StudyError(f"cohort '{name}': no valid rows; every row was quarantined: {rules}")


if __name__ == "__main__":
    run_stage("validate", lambda: main(sys.argv[1]))
