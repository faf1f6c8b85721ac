"""DVC stage `validate`: every cohort named in params through the data contracts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sonorisk import paths
from sonorisk.atomic_file import write_json
from sonorisk.contracts.validate import validate_cohort, write_summary
from sonorisk.params import stage_params


def main() -> None:
    params = stage_params("validate")
    run_date = dt.date.fromisoformat(params["run_date"]) if params.get("run_date") else None
    totals = {}
    for cohort in map(Path, params["cohorts"]):
        name = cohort.name.removesuffix(".parquet")
        summary = validate_cohort(
            cohort,
            paths.VALIDATED_DIR / f"{name}.parquet",
            paths.QUARANTINE_DIR / f"{name}.parquet",
            docs_dir=paths.DATA_DOCS_DIR / name,
            run_date=run_date,
            progress=False,
        )
        write_summary(summary, paths.VALIDATION_REPORTS / f"{name}.json")
        totals[name] = {
            "rows_in": summary.rows_in,
            "rows_valid": summary.rows_valid,
            "rows_quarantined": summary.rows_quarantined,
        }
        print(
            f"validate {name}: {summary.rows_in} in = {summary.rows_valid} valid"
            f" + {summary.rows_quarantined} quarantined"
        )
    write_json(paths.metrics_file("validation"), totals)


if __name__ == "__main__":
    main()
