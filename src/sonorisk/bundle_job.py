"""The bundle stage's job: the training distribution of every model input (for drift), then every
model file, the settings and contracts in force and the manifest, written as one bundle, then signed
(``signing.py``: the study's key, or the demo key, said so)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sonorisk import paths
from sonorisk.atomic_file import write_json
from sonorisk.bundle import inputs_read, model_inputs, pipeline_provenance, pipeline_sources, write_bundle
from sonorisk.radiomics.harmonisation import FeatureHarmoniser
from sonorisk.risk.drift import REFERENCE_FILE, development_reference
from sonorisk.signing import sign_bundle, stage_signing_key
from sonorisk.study import Study


def bundle_job(radiomics_settings: Path, study: Study, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Build and sign ``models/bundle`` from the pipeline's outputs; returns its manifest."""
    inputs = model_inputs(paths.RADIOMICS_MODELS, paths.FUSION_MODELS)
    reference = development_reference(
        paths.SPLIT_FILE,
        paths.RADIOMICS_FEATURES,
        paths.validated_cohorts(),
        paths.FUSION_SCORES,
        inputs_read(inputs, "radiomics"),
        inputs_read(inputs, "fields"),
        FeatureHarmoniser.load(paths.RADIOMICS_MODELS),
    )
    with tempfile.TemporaryDirectory() as scratch:
        sources = pipeline_sources(radiomics_settings) | {
            REFERENCE_FILE: write_json(Path(scratch) / "reference.json", reference)
        }
        provenance = pipeline_provenance(inputs, study)
        manifest = write_bundle(paths.BUNDLE_DIR, sources, provenance)
    signed = sign_bundle(paths.BUNDLE_DIR, stage_signing_key(log))
    log(f"bundle: manifest signed by key {signed['key_id']} ({paths.BUNDLE_DIR / 'signature.json'})")
    return manifest
