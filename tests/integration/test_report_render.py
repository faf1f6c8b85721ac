"""The evaluation report rendered by headless Chromium: tables and figures are there and drawn.

Chromium is a Debian package (`chromium`) that `.ci/run` installs; elsewhere the test skips unless
SONORISK_REQUIRE_CHROMIUM=1 (set by CI) turns a missing browser into a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from sonorisk.evaluation.job import EvaluationInputs, EvaluationOutputs, run_evaluation
from sonorisk.fusion.fit import FusionParams, fit_fusion
from sonorisk.fusion.job import THRESHOLDS_FILE

# Its tests share module-scoped builds: one worker runs them all.
pytestmark = pytest.mark.xdist_group("report_render")

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("SONORISK_REQUIRE_CHROMIUM") == "1":
            pytest.fail("chromium is required (SONORISK_REQUIRE_CHROMIUM=1) but not installed")
        pytest.skip("chromium not installed (Debian package `chromium`; .ci/run installs it)")
    return found


def _score_table(n: int, seed: int) -> tuple[pl.DataFrame, list[dict]]:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    age = rng.normal(52, 11, n).round()
    y = rng.random(n) < 1 / (1 + np.exp(-(-1.3 + 0.04 * (50 - age) + 1.4 * latent)))
    split = np.where(
        np.arange(n) < n // 2, "training", np.where(np.arange(n) < 3 * n // 4, "internal_validation", "external")
    )
    rows = [{"age": int(a), "er_status": "positive" if rng.random() < 0.6 else "negative"} for a in age]
    table = pl.DataFrame(
        {
            "cohort_id": ["c"] * n,
            "patient_id": [f"p{i:04d}" for i in range(n)],
            "center": np.where(split == "external", "B", "A"),
            "split": split,
            "outcome": y,
            "score_kind": np.where(split == "training", "out_of_fold", "fitted_on_training"),
            "clinical_only": 0.04 * (50 - age) + rng.normal(0, 0.5, n),
            "rad_score": 0.9 * latent + rng.normal(0, 0.6, n),
            "radiomics_clinical_xgb": 1 / (1 + np.exp(-(latent + 0.03 * (50 - age) + rng.normal(0, 0.7, n)))),
            "dl_score": 1 / (1 + np.exp(-(0.8 * latent + rng.normal(0, 0.7, n)))),
        }
    )
    return table, rows


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    table, rows = _score_table(400, seed=4)
    train = (table["split"] == "training").to_numpy()
    scores = {n: table[n].to_numpy() for n in ("rad_score", "radiomics_clinical_xgb", "dl_score")}
    fitted = fit_fusion(
        [r for r, t in zip(rows, train, strict=True) if t],
        {n: v[train] for n, v in scores.items()},
        table["outcome"].to_numpy()[train],
        FusionParams(seed=2),
    )
    model = fitted.model
    model.save(root / "model")
    thresholds = {
        "clinical_only": 0.2,
        "rad_score": 0.3,
        "radiomics_clinical_xgb": 0.3,
        "dl_score": 0.5,
        "fusion_risk": model.thresholds["youden"],
    }
    (root / "model" / THRESHOLDS_FILE).write_text(json.dumps(thresholds))
    risk = model.predict_proba(rows, scores)
    table = table.with_columns(
        pl.Series("fusion_raw", np.log(risk / (1 - risk))),
        pl.Series("fusion_risk", risk),
        pl.Series("risk_group", model.risk_group(risk)),
        pl.lit(None, pl.String).alias("fusion_note"),
    )
    table.write_parquet(root / "scores.parquet")
    validated = pl.DataFrame(
        {
            "cohort_id": table["cohort_id"],
            "patient_id": table["patient_id"],
            "age": [r["age"] for r in rows],
            "er_status": [r["er_status"] for r in rows],
        }
    )
    validated.write_parquet(root / "validated.parquet")
    out = EvaluationOutputs(
        root / "metrics.json", root / "report.html", root / "figures", root / "plots", root / "details"
    )
    run_evaluation(
        EvaluationInputs(
            root / "scores.parquet", root / "model", [root / "validated.parquet"], title="Render test report"
        ),
        out,
    )
    return out.report


def test_the_rendered_page_has_the_results_tables_and_every_figure(report: Path) -> None:
    chromium = _chromium()
    dom = subprocess.run(
        [chromium, *_FLAGS, f"--user-data-dir={report.parent / 'profile'}", "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "<h1>Render test report</h1>" in dom
    assert dom.count("<table") >= 6  # AUC table, 3 threshold tables, flow, baseline
    for label in ("Clinical model", "Rad Score", "Radiomics + clinical XGBoost", "DL Score", "Fusion"):
        assert label in dom
    assert "External centre B" in dom and "Baseline characteristics" in dom
    images = re.findall(r"<img [^>]*src=\"data:image/png;base64,", dom)
    assert len(images) == 3 * 3 + 1  # ROC, calibration, decision curve per cohort + SHAP summary


def test_the_screenshot_shows_the_figures_drawn(report: Path) -> None:
    chromium = _chromium()
    shot = report.parent / "shot.png"
    subprocess.run(
        [
            chromium,
            *_FLAGS,
            f"--user-data-dir={report.parent / 'profile2'}",
            "--window-size=1280,6000",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    fusion_red = np.abs(pixels - np.array([0xD6, 0x27, 0x28])).sum(axis=1) < 40  # the fusion curves' colour
    assert fusion_red.sum() > 500, "no fusion curve visible: the figures did not render"
    assert (pixels.std(axis=0) > 10).all()  # not a blank page


# --- Issue 19: the survival section and the TRIPOD+AI checklist ---------------------------------


@pytest.fixture(scope="module")
def survival_report(report: Path) -> Path:
    """The same study with follow-up: survival models fitted and evaluated for real, then the report."""
    from sonorisk.atomic_file import write_json
    from sonorisk.evaluation.survival_job import evaluate_survival
    from sonorisk.fusion.survival import SurvivalParams
    from sonorisk.fusion.survival_job import SurvivalInputs, load_cutpoints, load_models, run_survival
    from sonorisk.modelling.cox import CoxBoostSetting

    root = report.parent
    table = pl.read_parquet(root / "scores.parquet")
    rng = np.random.default_rng(8)
    event = table["outcome"].to_numpy()
    followup = np.where(event, np.minimum(rng.gamma(2.0, 12.0, table.height), 40.0), rng.uniform(40, 100, table.height))
    validated = pl.read_parquet(root / "validated.parquet").with_columns(pl.Series("followup_months", followup))
    validated.write_parquet(root / "validated_followup.parquet")
    params = SurvivalParams(alphas=(1.0, 10.0), xgb_grid=(CoxBoostSetting(max_depth=1, rounds=30),), seed=3)
    inputs = SurvivalInputs(root / "scores.parquet", [root / "validated_followup.parquet"])
    assert run_survival(inputs, params, root / "survival", root / "survival.parquet") is not None
    doc = evaluate_survival(
        pl.read_parquet(root / "survival.parquet"),
        load_models(root / "survival"),
        load_cutpoints(root / "survival"),
        params.horizons_months,
        60.0,
        params.seed,
        50,
    )
    write_json(root / "survival.json", doc, default=float)
    out = EvaluationOutputs(
        root / "s_metrics.json", root / "survival_report.html", root / "s_figures", root / "s_plots", root / "s_details"
    )
    run_evaluation(
        EvaluationInputs(
            root / "scores.parquet",
            root / "model",
            [root / "validated_followup.parquet"],
            title="Survival render test",
            outcome_wording="brain metastasis",
            survival=root / "survival.json",
        ),
        out,
    )
    return out.report


def test_a_study_without_follow_up_has_the_checklist_but_no_survival_section(report: Path) -> None:
    page = report.read_text()
    assert "TRIPOD+AI checklist" in page and "for the authors" in page
    assert "<h2 id='survival'>" not in page and "Uno's C-index" not in page


def test_the_survival_section_and_tripod_checklist_render_headlessly(survival_report: Path) -> None:
    chromium = _chromium()
    dom = subprocess.run(
        [
            chromium,
            *_FLAGS,
            f"--user-data-dir={survival_report.parent / 'profile3'}",
            "--dump-dom",
            survival_report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "Time to brain metastasis" in dom
    for heading in (
        "Uno's C-index",
        "Harrell's C-index",
        "Time-dependent AUC",
        "Integrated Brier score",
        "Calibration slope at 24 months",
        "Log-rank test",
        "TRIPOD+AI checklist",
    ):
        assert heading in dom, heading
    for label in ("Survival fusion (clinical + radiomics + DL)", "Clinical Cox", "Cox Rad Score", "Cox DL Score"):
        assert label in dom
    # Filled items link to the section that shows them; unfilled ones say so.
    assert 'href="#survival"' in dom and 'href="#flow"' in dom and "for the authors" in dom
    assert re.search(r"8a</td><td>Outcome: definition and horizon</td><td>[^<]*within 12, 24, 36 months", dom)
    images = re.findall(r"<img [^>]*src=\"data:image/png;base64,", dom)
    assert len(images) == (3 * 3 + 1) + 3 * 3  # the binary figures + KM, td-AUC, calibration per cohort

    shot = survival_report.parent / "survival_shot.png"
    subprocess.run(
        [
            chromium,
            *_FLAGS,
            f"--user-data-dir={survival_report.parent / 'profile4'}",
            "--window-size=1280,9000",
            f"--screenshot={shot}",
            survival_report.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    orange = np.abs(pixels - np.array([0xFF, 0x7F, 0x0E])).sum(axis=1) < 40  # KM's intermediate-risk curve
    assert orange.sum() > 300, "no Kaplan-Meier curve visible: the survival figures did not render"
