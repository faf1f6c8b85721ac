"""After `dvc repro`: print what the pipeline produced, where, and the models' AUCs (used by `make demo`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sonorisk import paths

_OUTPUTS = [
    paths.COHORTS_DIR,
    paths.VALIDATED_DIR,
    paths.QUARANTINE_DIR,
    paths.SPLIT_FILE.parent,
    paths.FEATURES_DIR,
    paths.SCORES_DIR,
    paths.RADIOMICS_MODELS,
    paths.DEEP_MODELS,
    paths.FUSION_MODELS,
    paths.BUNDLE_DIR,
    paths.FIGURES_DIR,
    paths.PREVIEW_DIR,
    paths.VALIDATION_REPORTS,
]
_SPLITS = [("training", "training (OOF)"), ("internal_validation", "internal"), ("external", "external")]


def _size(path: Path) -> str:
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    return f"{total / 1e6:.1f} MB"


def _metrics(name: str) -> dict[str, Any] | None:
    path = paths.metrics_file(name)
    return json.loads(path.read_text()) if path.exists() else None


def _cell(result: dict[str, Any] | None) -> str:
    if not result:
        return "-"
    return f"{result['auc']:.3f} [{result['ci_low']:.3f}, {result['ci_high']:.3f}]"


def auc_rows() -> list[tuple[str, dict[str, Any]]]:
    """(model label, {split: AUC dict}) for every model the metrics files know."""
    rows: list[tuple[str, dict[str, Any]]] = []
    radiomics = _metrics("radiomics") or {}
    for key, label in [
        ("clinical_only", "clinical-only logistic"),
        ("rad_score", "Rad Score (LASSO)"),
        ("radiomics_clinical_xgb", "radiomics + clinical XGBoost"),
    ]:
        if key in radiomics:
            rows.append((label, radiomics[key]))
    deep = _metrics("deep")
    if deep:
        for name, result in deep["models"].items():
            entry = dict(result)
            entry["external"] = result.get("external_validation", result.get("external"))
            entry["training"] = result.get("oof_training")  # out-of-fold, on the training split
            rows.append((f"DL {name}{' (selected)' if name == deep['winner'] else ''}", entry))
    return rows


def main() -> None:
    print("\nSonoRisk demo: outputs")
    for path in _OUTPUTS:
        if path.exists():
            files = sorted(p for p in path.glob("*") if p.is_file() or p.suffix == ".parquet")
            shown = ", ".join(p.name for p in files[:4]) + (" ..." if len(files) > 4 else "")
            print(f"  {path.as_posix() + '/':28s} {_size(path):>10s}  {shown}")
    split = _metrics("split")
    if split:
        counts = ", ".join(
            f"{k} {v['images']} images / {v['persons']} persons ({v['positive']})" for k, v in split.items()
        )
        print(f"\nSplits, images / persons (positive): {counts}")
    for path in sorted((paths.METRICS_DIR / "synth").glob("*.json")):
        synth = json.loads(path.read_text())
        print(
            f"Oracle AUC of synthetic cohort {path.stem} (the ceiling any model can reach): {synth['oracle_auc']:.3f}"
        )
    rows = auc_rows()
    if rows:
        print("\nAUC [95 % DeLong CI] of each stage's models (the DL zoo in full)")
        print(f"  {'model':34s}" + "".join(f"{label:>24s}" for _, label in _SPLITS))
        for label, result in rows:
            print(f"  {label:34s}" + "".join(f"{_cell(result.get(key)):>24s}" for key, _ in _SPLITS))
    fusion = _metrics("fusion")
    if fusion:
        from sonorisk.evaluation.job import results_lines

        print("\nResults of every model on every cohort (reports/metrics/fusion.json)")
        print("\n".join("  " + line for line in results_lines(fusion)))
    if paths.REPORT_HTML.exists():
        print(f"\nEvaluation report: {paths.REPORT_HTML.resolve()}")
    manifest = paths.BUNDLE_DIR / "manifest.json"
    if manifest.exists():
        profile = json.loads(manifest.read_text()).get("reproducibility", {})
        floor = f", floor {profile['floor']}" if profile.get("floor") else ""
        print(f"Reproducibility profile: {profile.get('profile', 'unrecorded')}{floor} (docs/reproducibility.md)")
    print(
        "\n`dvc metrics show` lists every metric; `dvc plots show` renders ROC, calibration and decision curves; "
        "`dvc dag` shows the stages."
    )
    for index in sorted(paths.VALIDATION_REPORTS.glob("*/data_docs/index.html")):
        print(f"Great Expectations Data Docs: {index}")
    previews = sorted(paths.PREVIEW_DIR.glob("*/*.png"))
    if previews:
        print("Preview montages: " + ", ".join(str(p) for p in previews))


if __name__ == "__main__":
    main()
