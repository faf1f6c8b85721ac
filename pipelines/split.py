"""DVC stage `split`: training / internal validation / external validation per patient."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq

from sonorisk import paths
from sonorisk.atomic_file import write_json, write_parquet
from sonorisk.cohort.split import assign_splits
from sonorisk.params import stage_params

_COLUMNS = ["patient_id", "case_id", "cohort_id", "center"]


def main() -> None:
    params = stage_params("split")
    tables = [pq.read_table(path, columns=[*_COLUMNS, params["outcome"]]) for path in paths.validated_cohorts()]
    splits = assign_splits(
        pa.concat_tables(tables),
        outcome=params["outcome"],
        development_centre=params["development_centre"],
        external_centres=params["external_centres"],
        internal_fraction=float(params["internal_validation_fraction"]),
        seed=int(params["seed"]),
    )
    write_parquet(splits, paths.SPLIT_FILE)
    counts: dict[str, dict[str, int]] = {}
    for split, outcome in zip(splits.column("split").to_pylist(), splits.column("outcome").to_pylist(), strict=True):
        tally = counts.setdefault(split, Counter())
        tally["patients"] += 1
        tally["positive"] += bool(outcome)
    write_json(paths.metrics_file("split"), {k: dict(v) for k, v in sorted(counts.items())}, sort_keys=False)
    for split, tally in sorted(counts.items()):
        print(f"split {split}: {tally['patients']} patients, {tally['positive']} positive")


if __name__ == "__main__":
    main()
