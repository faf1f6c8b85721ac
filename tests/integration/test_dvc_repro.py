"""`dvc repro` for real in a throw-away clone of the project (the reduced project of ``project.py``,
built once per session): every stage runs, the metrics, plots and report are there, nothing is stale."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.integration.project import run

pytestmark = [pytest.mark.dvc, pytest.mark.slow, pytest.mark.xdist_group("reduced_project")]


def _leaves(doc: object) -> list[object]:
    """What `dvc metrics show` makes a column of: every leaf of the nested JSON (a list is one)."""
    if isinstance(doc, dict):
        return [leaf for value in doc.values() for leaf in _leaves(value)]
    return [doc]


def test_dvc_repro_runs_the_stages_and_leaves_nothing_stale(reproduced: tuple[Path, str], tmp_path: Path) -> None:
    project, out = reproduced
    for stage in (
        "synth@synthetic-default",
        "validate@synthetic-default",
        "split",
        "radiomics",
        "radiomics_model",
        "dl_train",
        "dl_score",
        "fusion",
        "survival",
        "evaluate",
    ):
        assert f"Running stage '{stage}'" in out
    synth = json.loads((project / "reports/metrics/synth/synthetic-default.json").read_text())
    assert synth["patients"] == 120
    assert synth["per_centre"] == {"A": 70, "B": 50}
    validation = json.loads((project / "reports/metrics/validation/synthetic-default.json").read_text())
    assert validation["rows_in"] == validation["rows_valid"] + validation["rows_quarantined"] == 120
    radiomics = json.loads((project / "reports/metrics/radiomics.json").read_text())
    for model in ("clinical_only", "rad_score", "radiomics_clinical_xgb"):
        for split in ("training", "internal_validation", "external"):
            auc = radiomics[model][split]
            assert 0.0 <= auc["ci_low"] <= auc["auc"] <= auc["ci_high"] <= 1.0
    for name in ("rad_score.json", "clinical_logistic.json", "radiomics_clinical_xgb.ubj"):
        assert (project / "models/radiomics" / name).stat().st_size > 0
    assert (project / "reports/validation/synthetic-default/data_docs/index.html").exists()
    assert sorted(p.name for p in (project / "reports/preview/synthetic-default").glob("*.png")) == [
        "preview_centre_A.png",
        "preview_centre_B.png",
    ]
    status = run([sys.executable, "-m", "dvc", "status"], project)
    assert "up to date" in status
    shown = run([sys.executable, "-m", "dvc", "metrics", "show"], project)
    per_file = json.loads(run([sys.executable, "-m", "dvc", "metrics", "show", "--json"], project))
    widths = {path: len(_leaves(doc["data"])) for path, doc in per_file[""]["data"].items()}
    assert widths and max(widths.values()) <= 60, widths  # one column per leaf: headline numbers only
    assert "oracle_auc" in shown
    assert "radiomics_clinical_xgb.external.auc" in shown
    assert "results.external_B.fusion_risk.auc" in shown
    fusion = json.loads((project / "reports/metrics/fusion.json").read_text())
    assert set(fusion["results"]) == {"training", "internal_validation", "external_B"}
    for cohort in fusion["results"].values():
        assert set(cohort) == {"clinical_only", "rad_score", "radiomics_clinical_xgb", "dl_score", "fusion_risk"}
    assert (project / "reports/report.html").stat().st_size > 10_000
    survival = json.loads((project / "reports/survival/results.json").read_text())
    assert set(survival["cohorts"]) == {"training", "internal_validation", "external_B"}
    external = survival["cohorts"]["external_B"]["models"]
    assert {"survival_fusion", "survival_clinical", "survival_rad", "survival_dl", "oracle"} == set(external)
    for model in external.values():
        uno = model["uno_c"]
        assert 0.0 <= uno["low"] <= uno["value"] <= uno["high"] <= 1.0
    page = tmp_path / "dvc_plots"  # outside the shared project, which stays as `dvc repro` left it
    plots = run([sys.executable, "-m", "dvc", "plots", "show", "-o", str(page)], project)
    assert "index.html" in plots
    html = (page / "index.html").read_text()
    for kind in ("roc", "calibration", "decision"):  # one plot per cohort, whatever centres the study has
        for cohort in ("training", "internal_validation", "external_B"):
            assert f"reports/plots/{kind}/{cohort}.csv" in html
