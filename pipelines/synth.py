"""DVC stage `synth@<name>`: one synthetic cohort of the study, its truth file and preview montages."""

from __future__ import annotations

import os
import sys

from sonorisk import paths
from sonorisk.atomic_file import write_json
from sonorisk.cohort.preview import write_previews
from sonorisk.gates import StudyError, run_stage
from sonorisk.params import stage_params
from sonorisk.synthetic.centres import SynthParams, parse_centres
from sonorisk.synthetic.generator import OUTCOME, PREVIEW_MARKS, SynthConfig, write_synthetic_cohort


def main(name: str) -> None:
    cohorts = stage_params("synth", SynthParams).cohorts
    if name not in cohorts:
        raise StudyError(f"synth.cohorts has no entry '{name}' (entries: {', '.join(cohorts) or 'none'})")
    spec = cohorts[name]
    config = SynthConfig(
        centres=parse_centres(spec.centres),
        seed=spec.seed,
        cohort_id=name,
        labels=spec.labels,
        second_reader=spec.second_reader,
    )
    cohort, truth = paths.cohort_file(name), paths.truth_file(name)
    summary = write_synthetic_cohort(config, cohort, truth, workers=os.cpu_count() or 1, progress=False)
    write_previews(cohort, paths.PREVIEW_DIR / name, OUTCOME, PREVIEW_MARKS)
    metrics = {
        "patients": summary.n,
        "per_centre": summary.per_centre,
        "prevalence": round(summary.prevalence, 4),
        "oracle_auc": round(summary.oracle_auc, 4),
    }
    write_json(paths.synth_metrics(name), metrics)
    print(
        f"synth {name}: {summary.n} patients {summary.per_centre}, prevalence {summary.prevalence:.1%}, "
        f"oracle AUC {summary.oracle_auc:.3f}"
    )


if __name__ == "__main__":
    run_stage("synth", lambda: main(sys.argv[1]))
