"""DVC stage `radiomics_model`: ICC robustness, screening, Rad Score, radiomics + clinical XGBoost and
the clinical-only baseline, fitted on training rows only; scores and AUCs with 95 % CIs."""

from __future__ import annotations

from sonorisk import paths
from sonorisk.gates import run_stage
from sonorisk.params import stage_params
from sonorisk.radiomics.model_job import RadiomicsModelInputs, RadiomicsModelSection, run_radiomics_models
from sonorisk.study import Study


def main() -> None:
    params = stage_params("radiomics_model", RadiomicsModelSection).model_params()
    batch_column = stage_params("study", Study).batch_column
    run_radiomics_models(RadiomicsModelInputs(validated=paths.validated_cohorts()), params, batch_column=batch_column)


if __name__ == "__main__":
    run_stage("radiomics_model", main)
