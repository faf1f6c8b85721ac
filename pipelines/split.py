"""DVC stage `split`: training / internal validation / external validation per row, persons whole."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from sonorisk import paths
from sonorisk.atomic_file import write_json, write_parquet
from sonorisk.cohort.split import SplitParams, assign_splits
from sonorisk.gates import StudyError, run_stage
from sonorisk.params import stage_params
from sonorisk.study import Study


def main() -> None:
    study = stage_params("study", Study)
    params = stage_params("split", SplitParams)
    person, outcome = study.person_column or "patient_id", study.outcome
    tables = []
    for path in paths.validated_cohorts():
        present = set(pq.read_schema(path).names)
        if outcome not in present:
            raise StudyError(f"{path.name}: no outcome column '{outcome}' (study.outcome)")
        if person not in present and person not in ("patient_id", "case_id"):
            hint = "study.person_column; null: one row, one person"
            raise StudyError(f"{path.name}: no person column '{person}' ({hint})")
        wanted = ["patient_id", "cohort_id", "center", outcome, *([person] if person in present else [])]
        tables.append(pq.read_table(path, columns=wanted))
    splits = assign_splits(
        pa.concat_tables(tables, promote_options="default"),
        outcome=outcome,
        development_centre=study.development_centre,
        external_centres=list(study.external_centres),
        internal_fraction=params.internal_validation_fraction,
        seed=params.seed,
        person_column=person,
    )
    write_parquet(splits, paths.SPLIT_FILE)
    split, person, outcome_of = (splits.column(c).to_pylist() for c in ("split", "person", "outcome"))
    summary = {
        name: {
            "images": split.count(name),
            "persons": len({p for s, p in zip(split, person, strict=True) if s == name}),
            "positive": sum(1 for s, y in zip(split, outcome_of, strict=True) if s == name and y),
        }
        for name in sorted(set(split))
    }
    write_json(paths.metrics_file("split"), summary, sort_keys=False)
    for name, counts in summary.items():
        print(f"split {name}: {counts['images']} images of {counts['persons']} persons, {counts['positive']} positive")


if __name__ == "__main__":
    run_stage("split", main)
