"""DVC stage `bundle`: models/bundle/ with every model file, the radiomics settings, the contracts in
force, thresholds, the training distribution of every model input (for drift), the model card and a
manifest of SHA-256 hashes (what `sonorisk score` loads)."""

from __future__ import annotations

from sonorisk import paths
from sonorisk.bundle_job import bundle_job
from sonorisk.gates import run_stage
from sonorisk.params import stage_params
from sonorisk.radiomics.settings import RadiomicsStageParams
from sonorisk.study import Study


def main() -> None:
    settings = paths.PROJECT_ROOT / stage_params("radiomics", RadiomicsStageParams).settings
    study = stage_params("study", Study)
    manifest = bundle_job(settings, study)
    print(f"bundle: {len(manifest['files'])} files, bundle sha256 {manifest['bundle_sha256']}")


if __name__ == "__main__":
    run_stage("bundle", main)
