"""DVC stage `bundle`: models/bundle/ with every model file, the radiomics settings, the contracts in
force, thresholds, the model card and a manifest of SHA-256 hashes (what `sonorisk score` loads)."""

from __future__ import annotations

import json
from pathlib import Path

from sonorisk.bundle import write_bundle
from sonorisk.provenance import PIPELINE_PACKAGES, file_sha256, git_revision, package_versions


def main() -> None:
    sources: dict[str, Path] = {}
    for folder in ("radiomics", "deep", "fusion"):
        for path in sorted(Path("models", folder).glob("*")):
            if path.is_file():
                sources[f"{folder}/{path.name}"] = path
    sources["settings/radiomics.yaml"] = Path("data_contracts/radiomics/ultrasound_2d.yaml")
    for path in sorted(Path("data_contracts/cohort").glob("*")):
        sources[f"contracts/cohort/{path.name}"] = path
    sources["contracts/risk/risk_table.yaml"] = Path("data_contracts/risk/risk_table.yaml")

    fusion = json.loads(Path("reports/metrics/fusion.json").read_text())["results"]
    card = json.loads(Path("models/deep/model_card.json").read_text())
    extra = {
        "git_revision": git_revision(),
        "versions": package_versions(PIPELINE_PACKAGES),
        "training_data": {
            "split_sha256": file_sha256(Path("data/splits/split.parquet")),
            "validated_sha256": {p.name: file_sha256(p) for p in sorted(Path("data/validated").glob("*.parquet"))},
            "dl_training_crops_sha256": card["training_data_sha256"],
        },
        "headline_metrics": {
            cohort: {model: {k: m[k] for k in ("auc", "ci_low", "ci_high", "n")} for model, m in results.items()}
            for cohort, results in fusion.items()
        },
    }
    manifest = write_bundle(Path("models/bundle"), sources, extra)
    print(f"bundle: {len(manifest['files'])} files, bundle sha256 {manifest['bundle_sha256']}")


if __name__ == "__main__":
    main()
