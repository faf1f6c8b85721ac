"""DVC stage `radiomics`: pyradiomics features of every validated row (Ray tasks), plus, for the
robustness screens of the training cases, seeded image perturbations and any second reader's masks."""

from __future__ import annotations

from sonorisk import paths
from sonorisk.gates import run_stage
from sonorisk.params import stage_params
from sonorisk.radiomics.extract_job import run_extraction
from sonorisk.radiomics.perturbation import PerturbationSettings
from sonorisk.radiomics.settings import RadiomicsStageParams, load_settings


def main() -> None:
    params = stage_params("radiomics", RadiomicsStageParams)
    settings = load_settings(paths.PROJECT_ROOT / params.settings)
    perturbation = PerturbationSettings.load(paths.PROJECT_ROOT / params.perturbation)
    run_extraction(paths.validated_cohorts(), paths.SPLIT_FILE, settings, perturbation, params.cases_per_task)


if __name__ == "__main__":
    run_stage("radiomics", main)
