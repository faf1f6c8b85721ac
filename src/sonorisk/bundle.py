"""The model bundle: every file nightly scoring needs, with a manifest of SHA-256 hashes.

``models/bundle/`` holds the radiomics-stage models, the DL model (safetensors + card), the fusion
model and its thresholds, the radiomics settings, the cohort contracts and the risk-table contract
in force when the models were trained, and ``manifest.json``: the SHA-256 of each file, package
versions, the code hash, the reproducibility profile, the training data hash and headline metrics.
``load_bundle`` re-hashes every file and refuses a bundle with a changed, missing or extra file, naming it.

The **bundle hash** is the SHA-256 of the sorted (path, file hash) list: it names the models and
settings, not the moment or the commit that wrote them, so two builds of identical models share it.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> src = Path(tempfile.mkdtemp()); (src / "a.json").write_text("{}")
    2
    >>> out = Path(tempfile.mkdtemp()) / "bundle"
    >>> manifest = write_bundle(out, {"fusion/a.json": src / "a.json"}, {"note": "doc"})
    >>> load_bundle(out).bundle_sha256 == manifest["bundle_sha256"]
    True
    >>> _ = (out / "fusion/a.json").write_text('{"x": 1}')
    >>> try:
    ...     load_bundle(out)
    ... except BundleError as refusal:
    ...     print(refusal)
    bundle file fusion/a.json was changed: its SHA-256 is not the manifest's
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sonorisk import paths
from sonorisk.atomic_file import atomic_dir, write_json
from sonorisk.modelling.clinical_encoding import source_fields
from sonorisk.provenance import PIPELINE_PACKAGES, code_sha256, file_sha256, package_versions
from sonorisk.reproducibility import current_profile
from sonorisk.study import Study

MANIFEST = "manifest.json"
SIGNATURE_FILE = "signature.json"  # signing.py: beside the manifest it signs, not listed in it
FORMAT = 1


class BundleError(ValueError):
    """A bundle that cannot be trusted: missing, changed or unexpected files, or a bad manifest."""


@dataclass(frozen=True)
class Bundle:
    root: Path
    manifest: dict[str, Any]

    @property
    def bundle_sha256(self) -> str:
        return str(self.manifest["bundle_sha256"])

    def path(self, relative: str) -> Path:
        return self.root / relative


def bundle_hash(files: Mapping[str, str]) -> str:
    """SHA-256 of the sorted ``path  sha256`` lines."""
    lines = "".join(f"{name}  {files[name]}\n" for name in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def write_bundle(out: Path, sources: Mapping[str, Path], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Copy ``sources`` (bundle path -> file) into a fresh ``out`` and write the manifest.

    ``extra`` (versions, code hash, profile, training data hash, metrics) is stored beside the hashes.
    The folder is built next to ``out`` and renamed into place, so a reader never sees half a bundle.
    """
    missing = [str(p) for p in sources.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"cannot build the bundle: {missing[0]} does not exist")
    with atomic_dir(out) as staging:
        for name, source in sorted(sources.items()):
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        files = {name: file_sha256(staging / name) for name in sorted(sources)}
        manifest = {"format": FORMAT, "bundle_sha256": bundle_hash(files), "files": files, **extra}
        write_json(staging / MANIFEST, manifest, default=str)
    return manifest


def manifest_path(root: Path) -> Path:
    """``root``'s manifest; BundleError naming where it looked when there is none."""
    path = root / MANIFEST
    if not path.is_file():
        where = "" if root.is_absolute() else f" (relative to {Path.cwd()})"
        raise BundleError(
            f"no bundle at {root}{where}: {MANIFEST} is missing (pass --bundle PATH, or build models/bundle "
            "with `dvc repro`)"
        )
    return path


def load_bundle(root: Path) -> Bundle:
    """Read and verify a bundle; every file's hash must match the manifest, no file may be added."""
    path_of_manifest = manifest_path(root)
    try:
        manifest = json.loads(path_of_manifest.read_text())
        files: dict[str, str] = manifest["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as problem:
        raise BundleError(f"bundle manifest {path_of_manifest} is unreadable: {problem}") from None
    for name in sorted(files):
        path = root / name
        if not path.is_file():
            raise BundleError(f"bundle file {name} is missing")
        if file_sha256(path) != files[name]:
            raise BundleError(f"bundle file {name} was changed: its SHA-256 is not the manifest's")
    present = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} - {MANIFEST, SIGNATURE_FILE}
    extra = sorted(present - set(files))
    if extra:
        raise BundleError(f"bundle file {extra[0]} is not in the manifest")
    if manifest.get("bundle_sha256") != bundle_hash(files):
        raise BundleError(f"bundle manifest {path_of_manifest} was changed: its bundle hash does not match its files")
    return Bundle(root, manifest)


def study_record(study: Study) -> dict[str, Any]:
    """The study as the manifest records it."""
    return {
        "name": study.name,
        "outcome": study.outcome,
        "outcome_wording": study.outcome_wording or study.outcome,
        "followup_column": study.followup_column,
        "person_column": study.person_column,
        "batch_column": study.batch_column,
    }


def pipeline_sources(radiomics_settings: Path) -> dict[str, Path]:
    """Bundle path -> file, for the pipeline's model folders, settings and contracts in force."""
    sources: dict[str, Path] = {}
    # models/survival is empty for a study without follow-up: its risk tables get null risk_24m/36m.
    for folder in (paths.RADIOMICS_MODELS, paths.DEEP_MODELS, paths.FUSION_MODELS, paths.SURVIVAL_MODELS):
        for path in sorted(folder.glob("*")):
            if path.is_file():
                sources[f"{folder.name}/{path.name}"] = path
    sources["settings/radiomics.yaml"] = radiomics_settings
    for path in sorted(paths.COHORT_CONTRACT_DIR.glob("*")):
        sources[f"contracts/cohort/{path.name}"] = path
    sources["contracts/risk/risk_table.yaml"] = paths.RISK_CONTRACT
    return sources


def model_inputs(radiomics: Path, fusion: Path) -> dict[str, dict[str, list[str]]]:
    """Per frozen model, what it reads: radiomics features, cohort fields, scores, images.

    Nightly scoring extracts only the union of the ``radiomics`` lists (``radiomics/plan.py``) and
    checks drift on every input listed here.
    """
    rad_score = json.loads((radiomics / "rad_score.json").read_text())
    clinical = json.loads((radiomics / "clinical_logistic.json").read_text())
    xgb_sidecar = json.loads((radiomics / "radiomics_clinical_xgb.json").read_text())
    fused = json.loads((fusion / "fusion.json").read_text())
    survival = fusion.parent / "survival" / "survival_fusion.json"
    xgb_radiomics = [c for c in xgb_sidecar["columns"] if c in xgb_sidecar["rad_features"]]
    xgb_fields = [c for c in xgb_sidecar["columns"] if c not in xgb_sidecar["rad_features"]]
    return {
        "clinical_only": {"fields": source_fields(clinical["encoder"]["columns"])},
        "rad_score": {"radiomics": list(rad_score["features"])},
        "radiomics_clinical_xgb": {"radiomics": xgb_radiomics, "fields": source_fields(xgb_fields)},
        "dl_score": {"images": ["image_png", "mask_png", "pixel_spacing_mm"]},
        "fusion": {"fields": source_fields(fused["encoder"]["columns"]), "scores": list(fused["score_inputs"])},
    } | (_survival_inputs(json.loads(survival.read_text())) if survival.is_file() else {})


def _survival_inputs(model: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    fields = source_fields(model["encoder"]["columns"]) if model["encoder"] else []
    return {"survival_fusion": {"fields": fields, "scores": list(model["score_inputs"])}}


def inputs_read(inputs: Mapping[str, Mapping[str, list[str]]], kind: str) -> list[str]:
    """One kind of input (``radiomics``, ``fields``) over every model of ``model_inputs``, in first-use order."""
    return list(dict.fromkeys(name for model in inputs.values() for name in model.get(kind, [])))


def read_features(bundle: Bundle) -> list[str]:
    """The radiomics features the bundle's models read."""
    inputs = bundle.manifest.get("model_inputs") or model_inputs(bundle.path("radiomics"), bundle.path("fusion"))
    return inputs_read(inputs, "radiomics")


def pipeline_provenance(inputs: Mapping[str, Mapping[str, list[str]]], study: Study) -> dict[str, Any]:
    """What the manifest records beside the hashes: versions, code hash, reproducibility profile, the study
    (its name, label columns, the outcome's wording and the person column: what a scoring machine needs
    without the project's params.yaml), the training data's hashes and the headline metrics of the
    evaluate stage."""
    results = json.loads(paths.metrics_file("fusion").read_text())["results"]
    card = json.loads((paths.DEEP_MODELS / "model_card.json").read_text())
    return {
        "code_sha256": code_sha256(),
        "model_inputs": inputs,
        "study": study_record(study),
        "reproducibility": current_profile(),
        "versions": package_versions(PIPELINE_PACKAGES),
        "training_data": {
            "split_sha256": file_sha256(paths.SPLIT_FILE),
            "validated_sha256": {p.name: file_sha256(p) for p in paths.validated_cohorts()},
            "dl_training_crops_sha256": card["training_data_sha256"],
        },
        "headline_metrics": {
            cohort: {model: {k: m[k] for k in ("auc", "ci_low", "ci_high")} for model, m in by_model.items()}
            for cohort, by_model in results.items()
        },
    }
