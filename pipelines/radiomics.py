"""DVC stage `radiomics`: pyradiomics features of every validated row (Ray tasks), plus the second
reader's masks on training cases for the robustness (ICC) screen."""

from __future__ import annotations

from sonorisk import paths
from sonorisk.params import stage_params
from sonorisk.radiomics.extract_job import run_extraction
from sonorisk.radiomics.settings import load_settings


def main() -> None:
    params = stage_params("radiomics")
    settings = load_settings(paths.PROJECT_ROOT / params["settings"])
    run_extraction(paths.validated_cohorts(), paths.SPLIT_FILE, settings, params["cases_per_task"])


if __name__ == "__main__":
    main()
