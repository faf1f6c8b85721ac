"""DVC stage `split`: training / internal validation / external validation per patient."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.params import stage_params
from sonorisk.cohort.split import assign_splits

_COLUMNS = ["patient_id", "case_id", "cohort_id", "center"]


def main() -> None:
    params = stage_params("split")
    tables = [
        pq.read_table(path, columns=[*_COLUMNS, params["outcome"]])
        for path in sorted(Path("data/validated").glob("*.parquet"))
    ]
    splits = assign_splits(
        pa.concat_tables(tables),
        outcome=params["outcome"],
        development_centre=params["development_centre"],
        external_centres=params["external_centres"],
        internal_fraction=float(params["internal_validation_fraction"]),
        seed=int(params["seed"]),
    )
    Path("data/splits").mkdir(parents=True, exist_ok=True)
    pq.write_table(splits, "data/splits/split.parquet", compression="zstd")
    counts: dict[str, dict[str, int]] = {}
    for split, outcome in zip(splits.column("split").to_pylist(), splits.column("outcome").to_pylist(), strict=True):
        tally = counts.setdefault(split, Counter())
        tally["patients"] += 1
        tally["positive"] += bool(outcome)
    Path("reports/metrics").mkdir(parents=True, exist_ok=True)
    Path("reports/metrics/split.json").write_text(
        json.dumps({k: dict(v) for k, v in sorted(counts.items())}, indent=2) + "\n"
    )
    for split, tally in sorted(counts.items()):
        print(f"split {split}: {tally['patients']} patients, {tally['positive']} positive")


if __name__ == "__main__":
    main()
