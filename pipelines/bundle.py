"""DVC stage `bundle`: models/bundle/ with every model file, the radiomics settings, the contracts in
force, thresholds, the training distribution of every model input (for drift), the model card and a
manifest of SHA-256 hashes (what `sonorisk score` loads)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl

from sonorisk import paths
from sonorisk.atomic_file import write_json
from sonorisk.bundle import inputs_read, model_inputs, pipeline_provenance, pipeline_sources, write_bundle
from sonorisk.gates import run_stage
from sonorisk.params import stage_params
from sonorisk.radiomics.settings import RadiomicsStageParams
from sonorisk.risk.drift import REFERENCE_FILE, build_reference
from sonorisk.study import Study

KEY = ["cohort_id", "patient_id"]


def drift_reference(out: Path, inputs: dict[str, dict[str, list[str]]]) -> Path:
    """The development rows' (training + internal validation) distribution of every model input."""
    development = pl.read_parquet(paths.SPLIT_FILE).filter(pl.col("split") != "external").select(KEY)
    read, fields = inputs_read(inputs, "radiomics"), inputs_read(inputs, "fields")
    features = pl.read_parquet(paths.RADIOMICS_FEATURES, columns=[*KEY, *read]).join(development, on=KEY)
    clinical = pl.concat(
        [
            pl.read_parquet(p, columns=[c for c in (*KEY, *fields) if c in pl.read_parquet_schema(p)])
            for p in paths.validated_cohorts()
        ],
        how="diagonal_relaxed",
    ).join(development, on=KEY)
    scores = pl.read_parquet(paths.FUSION_SCORES).join(development, on=KEY)
    return write_json(out, build_reference(features, clinical, scores, read, fields))


def main() -> None:
    settings = paths.PROJECT_ROOT / stage_params("radiomics", RadiomicsStageParams).settings
    study = stage_params("study", Study)
    inputs = model_inputs(paths.RADIOMICS_MODELS, paths.FUSION_MODELS)
    with tempfile.TemporaryDirectory() as scratch:
        reference = drift_reference(Path(scratch) / "reference.json", inputs)
        sources = pipeline_sources(settings) | {REFERENCE_FILE: reference}
        provenance = pipeline_provenance(inputs, study.outcome, study.followup_column)
        manifest = write_bundle(paths.BUNDLE_DIR, sources, provenance)
    print(f"bundle: {len(manifest['files'])} files, bundle sha256 {manifest['bundle_sha256']}")


if __name__ == "__main__":
    run_stage("bundle", main)
