"""DVC stage `evaluate`: every model x every cohort (AUC with DeLong CI, metrics at training-fixed
thresholds, Brier, calibration, decision curves, DeLong tests against fusion, oracle AUC), figures,
SHAP values, DVC plot data and reports/report.html."""

from __future__ import annotations

import json

from sonorisk import paths
from sonorisk.evaluation.job import EvaluationInputs, EvaluationOutputs, results_lines, run_evaluation
from sonorisk.gates import run_stage
from sonorisk.params import stage_params
from sonorisk.radiomics.settings import RadiomicsStageParams
from sonorisk.study import Study


def main() -> None:
    study = stage_params("study", Study)
    wording = study.outcome_wording or study.outcome
    settings = paths.PROJECT_ROOT / stage_params("radiomics", RadiomicsStageParams).settings
    models = [
        p
        for folder in (paths.RADIOMICS_MODELS, paths.DEEP_MODELS, paths.FUSION_MODELS)
        for p in sorted(folder.glob("*"))
        if p.is_file()
    ]
    selection = json.loads(paths.FUSION_SELECTION.read_text())
    inputs = EvaluationInputs(
        scores=paths.FUSION_SCORES,
        fusion_model=paths.FUSION_MODELS,
        validated=paths.validated_cohorts(),
        truth=paths.truth_files(),
        validation_summaries=paths.validation_summaries(),
        settings_files=[paths.PARAMS_FILE, settings],
        model_files=models,
        title=f"SonoRisk: risk of {wording} ({study.name})",
        fusion_summary={"best": selection["selection"]["best"]},
        outcome_wording=wording,
        split=paths.SPLIT_FILE,
        screening=paths.SCREENING_REPORT,
        survival=paths.SURVIVAL_RESULTS,
        deep_card=paths.DEEP_MODELS / "model_card.json",
    )
    outputs = EvaluationOutputs()
    doc = run_evaluation(inputs, outputs)
    print("\n".join(results_lines(doc)))
    print(f"report: {outputs.report}")


if __name__ == "__main__":
    run_stage("evaluate", main)
