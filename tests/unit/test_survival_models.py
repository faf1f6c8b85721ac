"""Survival models: absolute risks against a known event-time model, file round trips (JSON and UBJ,
no pickle), the choice between Cox and Cox boosting, and a study without follow-up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sonorisk.fusion.heads import LinearHead
from sonorisk.fusion.survival import SurvivalModel, SurvivalParams, fit_survival
from sonorisk.fusion.survival_job import SurvivalInputs, read_followup, run_survival
from sonorisk.modelling.cox import CoxBoostSetting

SUBTYPES = ("luminal_a", "luminal_b", "her2_enriched", "triple_negative")


def _cohort(
    n: int, seed: int, triple_negative: float = 0.5
) -> tuple[list[dict], dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Exponential event times, log hazard = rad_score + ``triple_negative`` * (TN); censoring U(0, 60)."""
    rng = np.random.default_rng(seed)
    rad = rng.standard_normal(n)
    subtype = rng.choice(SUBTYPES, n)
    rows = [
        {
            "age": int(rng.integers(30, 80)),
            "molecular_subtype": str(s),
            "n_stage": "N0",
            "histologic_grade": 2,
            "ki67_pct": 20.0,
            "lvi": False,
        }
        for s in subtype
    ]
    log_hazard = 1.0 * rad + triple_negative * (subtype == "triple_negative")
    hazard = 0.02 * np.exp(log_hazard)
    t_event = rng.exponential(1.0 / hazard)
    censor = rng.uniform(0.0, 60.0, n)
    scores = {"rad_score": rad, "dl_score": 1 / (1 + np.exp(-rng.standard_normal(n)))}
    return rows, scores, t_event <= censor, np.minimum(t_event, censor), hazard


def test_cox_rad_score_recovers_the_true_absolute_risk_and_round_trips(tmp_path: Path) -> None:
    rows, scores, event, time, hazard = _cohort(3000, 1, triple_negative=0.0)
    fitted = fit_survival("survival_rad", rows, scores, event, time, SurvivalParams(alphas=(0.1,)))
    model = fitted.model
    assert model.kind == "cox"
    # One standardised column: coefficient = 1.0 * SD(rad_score) ~ 1 (the true log-hazard ratio).
    assert isinstance(model.head, LinearHead) and model.head.coefficients[0] == pytest.approx(1.0, abs=0.08)
    true_24 = 1.0 - np.exp(-hazard * 24.0)
    predicted = model.predict_risk(rows, scores, 24.0)
    assert np.abs(predicted - true_24).mean() < 0.02
    assert (model.predict_risk(rows, scores, 36.0) >= predicted).all()

    files = model.save(tmp_path)
    assert [f.name for f in files] == ["survival_rad.json"]
    again = SurvivalModel.load(tmp_path, "survival_rad")
    assert np.array_equal(again.decision_function(rows, scores), model.decision_function(rows, scores))
    assert np.array_equal(again.predict_risk(rows, scores, 24.0), predicted)


def test_boosted_cox_is_saved_as_ubj_and_predicts_the_same_after_loading(tmp_path: Path) -> None:
    rows, scores, event, time, _ = _cohort(600, 2)
    params = SurvivalParams(alphas=(), xgb_grid=(CoxBoostSetting(max_depth=2, rounds=30),))
    model = fit_survival("survival_clinical", rows, scores, event, time, params).model
    assert model.kind == "xgb_cox"
    assert sorted(f.name for f in model.save(tmp_path)) == ["survival_clinical.json", "survival_clinical.ubj"]
    again = SurvivalModel.load(tmp_path, "survival_clinical")
    assert np.allclose(again.decision_function(rows, scores), model.decision_function(rows, scores), rtol=0, atol=1e-6)


def test_the_family_choice_is_the_best_cross_validated_partial_likelihood() -> None:
    rows, scores, event, time, _ = _cohort(800, 3)
    fitted = fit_survival(
        "survival_fusion", rows, {**scores, "radiomics_clinical_xgb": scores["dl_score"]}, event, time, SurvivalParams()
    )
    best = max(fitted.trials, key=lambda t: t["cv_partial_log_likelihood"])
    assert fitted.model.selection["best_cv_partial_log_likelihood"] == best["cv_partial_log_likelihood"]
    assert fitted.model.kind == best["kind"] and fitted.model.params.get("alpha") == best.get("alpha")
    assert len(fitted.trials) == len(SurvivalParams().alphas) + len(SurvivalParams().xgb_grid)


@pytest.mark.parametrize(("effect", "chosen"), [(1.0, 0.1), (0.0, 100.0)])
def test_the_penalty_follows_the_signal_where_harrell_c_cannot_tell(effect: float, chosen: float) -> None:
    """One input: every penalty ranks patients alike, so Harrell's C all but ties across them; the cross-validated
    likelihood keeps a strong true effect (log-hazard ratio 1) barely shrunk and shrinks a null one most."""
    rows, scores, event, time, _ = _cohort(400, 5, triple_negative=0.0)
    rng = np.random.default_rng(6)
    hazard = 0.02 * np.exp(effect * scores["rad_score"])
    t_event, censor = rng.exponential(1.0 / hazard), rng.uniform(0.0, 60.0, hazard.size)
    event, time = t_event <= censor, np.minimum(t_event, censor)
    fitted = fit_survival("survival_rad", rows, scores, event, time, SurvivalParams())
    c = [t["cv_harrell_c"] for t in fitted.trials]
    assert max(c) - min(c) < 0.005  # only the fold models' pooled scales differ
    assert fitted.model.params["alpha"] == chosen


def test_the_partial_likelihood_is_scikit_survivals() -> None:
    """Against scikit-survival's own Cox loss (Breslow ties): its mean negative partial log-likelihood."""
    from sksurv.linear_model.coxph import CoxPHOptimizer

    from sonorisk.stats.survival import partial_log_likelihood

    rng = np.random.default_rng(8)
    time = rng.integers(1, 15, 60).astype(float)  # many tied times
    event, log_hazard = rng.random(60) < 0.6, rng.normal(0.0, 1.5, 60)
    loss = CoxPHOptimizer(log_hazard[:, None], event, time, np.zeros(1), "breslow").nlog_likelihood(np.ones(1))
    assert partial_log_likelihood(event, time, log_hazard) == pytest.approx(-60 * loss, rel=1e-12)


def test_too_few_events_is_a_clear_error() -> None:
    rows, scores, _, time, _ = _cohort(50, 4)
    with pytest.raises(ValueError, match="at least two events"):
        fit_survival("survival_rad", rows, scores, np.zeros(50, bool), time, SurvivalParams())


def test_a_study_without_follow_up_has_no_survival_models(tmp_path: Path) -> None:
    validated = tmp_path / "validated.parquet"
    pl.DataFrame({"cohort_id": ["c"], "patient_id": ["p1"], "followup_months": [None]}).write_parquet(validated)
    assert read_followup([validated]) is None
    no_column = tmp_path / "no_column.parquet"
    pl.DataFrame({"cohort_id": ["c"], "patient_id": ["p1"]}).write_parquet(no_column)
    models = tmp_path / "models"
    models.mkdir()
    (models / "survival_rad.json").write_text("{}")  # a stale model from an earlier study
    summary = run_survival(
        SurvivalInputs(tmp_path / "unused.parquet", [no_column]), SurvivalParams(), models, tmp_path / "scores.parquet"
    )
    assert summary is None
    assert [p.name for p in models.iterdir()] == ["selection.json"]  # says why, replaces the stale model
    assert "no cohort carries follow-up" in (models / "selection.json").read_text()
    assert not (tmp_path / "scores.parquet").exists()
