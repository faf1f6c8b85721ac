"""DVC stage `bundle`: models/bundle/ with every model file, the radiomics settings, the contracts in
force, thresholds, the model card and a manifest of SHA-256 hashes (what `sonorisk score` loads)."""

from __future__ import annotations

from sonorisk import paths
from sonorisk.bundle import pipeline_provenance, pipeline_sources, write_bundle
from sonorisk.gates import run_stage
from sonorisk.params import stage_params


def main() -> None:
    settings = paths.PROJECT_ROOT / stage_params("radiomics")["settings"]
    manifest = write_bundle(paths.BUNDLE_DIR, pipeline_sources(settings), pipeline_provenance())
    print(f"bundle: {len(manifest['files'])} files, bundle sha256 {manifest['bundle_sha256']}")


if __name__ == "__main__":
    run_stage("bundle", main)
