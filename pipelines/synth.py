"""DVC stage `synth`: the embedded default cohort, its truth file and preview montages."""

from __future__ import annotations

import os

from sonorisk import paths
from sonorisk.atomic_file import write_json
from sonorisk.cohort.preview import write_previews
from sonorisk.params import stage_params
from sonorisk.synthetic.centres import parse_centres
from sonorisk.synthetic.generator import SynthConfig, write_synthetic_cohort


def main() -> None:
    params = stage_params("synth")
    config = SynthConfig(
        centres=parse_centres(params["centres"]),
        seed=int(params["seed"]),
        cohort_id=params["cohort_id"],
        labels=bool(params["labels"]),
        second_reader=bool(params["second_reader"]),
    )
    cohort, truth = paths.cohort_file(config.cohort_id), paths.truth_file(config.cohort_id)
    summary = write_synthetic_cohort(config, cohort, truth, workers=os.cpu_count() or 1, progress=False)
    write_previews(cohort, paths.PREVIEW_DIR)
    metrics = {
        "patients": summary.n,
        "per_centre": summary.per_centre,
        "prevalence": round(summary.prevalence, 4),
        "oracle_auc": round(summary.oracle_auc, 4),
    }
    write_json(paths.metrics_file("synth"), metrics)
    print(
        f"synth: {summary.n} patients {summary.per_centre}, prevalence {summary.prevalence:.1%}, "
        f"oracle AUC {summary.oracle_auc:.3f}"
    )


if __name__ == "__main__":
    main()
