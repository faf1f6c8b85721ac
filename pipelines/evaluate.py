"""DVC stage `evaluate`: every model x every cohort (AUC with DeLong CI, metrics at training-fixed
thresholds, Brier, calibration, decision curves, DeLong tests against fusion, oracle AUC), figures,
SHAP values, DVC plot data and reports/report.html."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.params import stage_params
from sonorisk.evaluation.job import EvaluationInputs, EvaluationOutputs, results_lines, run_evaluation


def main() -> None:
    params = stage_params("evaluate")
    models = [
        p
        for folder in ("models/radiomics", "models/deep", "models/fusion")
        for p in sorted(Path(folder).glob("*"))
        if p.is_file()
    ]
    selection = json.loads(Path("reports/fusion/selection.json").read_text())
    inputs = EvaluationInputs(
        scores=Path("data/scores/fusion.parquet"),
        fusion_model=Path("models/fusion"),
        validated=sorted(Path("data/validated").glob("*.parquet")),
        truth=sorted(Path("data/truth").glob("*.truth.parquet")),
        validation_summaries=sorted(Path("reports/validation").glob("*.json")),
        settings_files=[Path("params.yaml"), Path("data_contracts/radiomics/ultrasound_2d.yaml")],
        model_files=models,
        title=params["title"],
        fusion_summary={"best": selection["selection"]["best"]},
    )
    outputs = EvaluationOutputs(
        metrics=Path("reports/metrics/fusion.json"),
        report=Path("reports/report.html"),
        figures=Path("reports/figures"),
        plots=Path("reports/plots"),
        details=Path("reports/evaluation"),
    )
    doc = run_evaluation(inputs, outputs)
    print("\n".join(results_lines(doc)))
    print(f"report: {outputs.report}")


if __name__ == "__main__":
    main()
