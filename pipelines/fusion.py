"""DVC stage `fusion`: clinical fields + Rad Score + DL Score, fitted on training patients' out-of-fold
scores; model to models/fusion/, every model's score per patient to data/scores/fusion.parquet."""

from __future__ import annotations

from pathlib import Path

from pipelines.params import stage_params
from sonorisk.fusion.job import FusionInputs, params_from_section, run_fusion, summary_json


def main() -> None:
    params = params_from_section(stage_params("fusion"))
    inputs = FusionInputs(
        radiomics_scores=Path("data/scores/radiomics.parquet"),
        dl_scores=Path("data/scores/dl.parquet"),
        dl_oof=Path("data/scores/dl_oof.parquet"),
        validated=sorted(Path("data/validated").glob("*.parquet")),
    )
    summary = run_fusion(inputs, params, Path("models/fusion"), Path("data/scores/fusion.parquet"))
    Path("reports/fusion").mkdir(parents=True, exist_ok=True)
    Path("reports/fusion/selection.json").write_text(summary_json(summary))
    best = summary["selection"]["best"]
    print(
        f"fusion: {summary['kind']} ({', '.join(f'{k}={v}' for k, v in best.items() if k not in ('kind', 'cv_auc'))}), "
        f"CV AUC {summary['selection']['best_cv_auc']:.3f}; calibration {summary['calibration']}; thresholds "
        + ", ".join(f"{k} {v:.3f}" for k, v in summary["thresholds"].items())
    )


if __name__ == "__main__":
    main()
