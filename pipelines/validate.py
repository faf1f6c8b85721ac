"""DVC stage `validate`: every cohort named in params through the data contracts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pipelines.params import stage_params
from sonorisk.contracts.validate import validate_cohort, write_summary


def main() -> None:
    params = stage_params("validate")
    run_date = dt.date.fromisoformat(params["run_date"]) if params.get("run_date") else None
    totals = {}
    for cohort in map(Path, params["cohorts"]):
        name = cohort.name.removesuffix(".parquet")
        summary = validate_cohort(
            cohort,
            Path("data/validated") / f"{name}.parquet",
            Path("data/quarantine") / f"{name}.parquet",
            docs_dir=Path("reports/validation/data_docs") / name,
            run_date=run_date,
            progress=False,
        )
        write_summary(summary, Path("reports/validation") / f"{name}.json")
        totals[name] = {
            "rows_in": summary.rows_in,
            "rows_valid": summary.rows_valid,
            "rows_quarantined": summary.rows_quarantined,
        }
        print(
            f"validate {name}: {summary.rows_in} in = {summary.rows_valid} valid"
            f" + {summary.rows_quarantined} quarantined"
        )
    Path("reports/metrics").mkdir(parents=True, exist_ok=True)
    Path("reports/metrics/validation.json").write_text(json.dumps(totals, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
