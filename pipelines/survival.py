"""DVC stage `survival`: time-to-event models beside the binary ones (penalised Cox and Cox boosting
on clinical fields + Rad Score + DL Score, and single-source Cox models), fitted on the training
split's out-of-fold scores and follow-up; models to models/survival/, every image's log hazard and
risk by 24/36 months to data/scores/survival.parquet, metrics per model x cohort (with the oracle for
synthetic cohorts) to reports/survival/results.json and their headline (Uno's C) to
reports/metrics/survival.json. A study without follow-up gets no models, an empty score table and
files that say why."""

from __future__ import annotations

import polars as pl

from sonorisk import paths
from sonorisk.atomic_file import write_json, write_parquet
from sonorisk.evaluation.survival_job import evaluate_saved, headline, read_truth, summary_lines
from sonorisk.fusion.score_table import KEY
from sonorisk.fusion.survival import SurvivalParams
from sonorisk.fusion.survival_job import (
    NO_FOLLOWUP,
    SurvivalInputs,
    run_survival,
)
from sonorisk.gates import run_stage
from sonorisk.params import stage_params


def main() -> None:
    params = stage_params("survival", SurvivalParams)
    inputs = SurvivalInputs(paths.FUSION_SCORES, paths.validated_cohorts())
    summary = run_survival(inputs, params, paths.SURVIVAL_MODELS, paths.SURVIVAL_SCORES)
    if summary is None:
        # DVC expects every output: an empty score table and a metrics file that says why.
        write_parquet(pl.DataFrame(schema=dict.fromkeys(KEY, pl.String)), paths.SURVIVAL_SCORES)
        write_json(paths.SURVIVAL_METRICS, {"survival": None, "reason": NO_FOLLOWUP})
        write_json(paths.SURVIVAL_RESULTS, {"survival": None, "reason": NO_FOLLOWUP})
        print(f"survival: {NO_FOLLOWUP}")
        return
    scored = pl.read_parquet(paths.SURVIVAL_SCORES)
    doc = evaluate_saved(scored, paths.SURVIVAL_MODELS, params, read_truth(paths.truth_files()))
    write_json(paths.SURVIVAL_RESULTS, {"fit": summary, **doc}, default=float)
    write_json(paths.SURVIVAL_METRICS, headline(doc), default=float)
    print("\n".join(summary_lines(doc)))


if __name__ == "__main__":
    run_stage("survival", main)
