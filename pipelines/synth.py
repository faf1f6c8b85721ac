"""DVC stage `synth`: the embedded default cohort, its truth file and preview montages."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pipelines.params import stage_params
from sonorisk.cohort.centres import parse_centres
from sonorisk.cohort.preview import write_previews
from sonorisk.cohort.synth import SynthConfig, write_synthetic_cohort


def main() -> None:
    params = stage_params("synth")
    config = SynthConfig(
        centres=parse_centres(params["centres"]),
        seed=int(params["seed"]),
        cohort_id=params["cohort_id"],
        labels=bool(params["labels"]),
        second_reader=bool(params["second_reader"]),
    )
    cohort = Path("data/cohorts") / f"{config.cohort_id}.parquet"
    truth = Path("data/truth") / f"{config.cohort_id}.truth.parquet"
    summary = write_synthetic_cohort(config, cohort, truth, workers=os.cpu_count() or 1, progress=False)
    write_previews(cohort, Path("reports/preview"))
    metrics = {
        "patients": summary.n,
        "per_centre": summary.per_centre,
        "prevalence": round(summary.prevalence, 4),
        "oracle_auc": round(summary.oracle_auc, 4),
    }
    Path("reports/metrics").mkdir(parents=True, exist_ok=True)
    Path("reports/metrics/synth.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    print(
        f"synth: {summary.n} patients {summary.per_centre}, prevalence {summary.prevalence:.1%}, "
        f"oracle AUC {summary.oracle_auc:.3f}"
    )


if __name__ == "__main__":
    main()
