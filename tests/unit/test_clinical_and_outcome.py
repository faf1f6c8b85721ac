"""Synthetic clinical fields: marginals near the issue's targets, correlations, consistency; the
outcome model's prevalence. Rules and targets are written here independently of the generator."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy.stats import spearmanr

from sonorisk.synthetic.centres import CENTRES, parse_centres
from sonorisk.synthetic.clinical import draw_clinical
from sonorisk.synthetic.outcome import clinical_logit, true_probability

N = 4000


@pytest.fixture(scope="module")
def patients() -> list[dict]:
    rng = np.random.default_rng(12345)
    return [draw_clinical(rng, CENTRES["A"]) for _ in range(N)]


def test_subtype_mix_matches_the_target(patients: list[dict]) -> None:
    counts = Counter(p["molecular_subtype"] for p in patients)
    target = {"luminal_a": 0.40, "luminal_b": 0.25, "her2_enriched": 0.15, "triple_negative": 0.20}
    for subtype, share in target.items():
        assert counts[subtype] / N == pytest.approx(share, abs=0.03), subtype


def _receptors_agree(p: dict) -> bool:
    hr_positive = "positive" in (p["er_status"], p["pr_status"])
    return {
        "luminal_a": hr_positive and p["her2_status"] == "negative",
        "luminal_b": hr_positive,
        "her2_enriched": not hr_positive and p["her2_status"] == "positive",
        "triple_negative": not hr_positive and p["her2_status"] == "negative",
    }[p["molecular_subtype"]]


def test_receptors_agree_with_subtype(patients: list[dict]) -> None:
    assert all(_receptors_agree(p) for p in patients)


def test_t_stage_agrees_with_size(patients: list[dict]) -> None:
    for p in patients:
        size, stage = p["tumor_size_mm"], p["t_stage"]
        assert stage == "T4" or stage == ("T1" if size <= 20 else "T2" if size <= 50 else "T3")
    assert 0.01 < sum(p["t_stage"] == "T4" for p in patients) / N < 0.06


def test_ki67_is_higher_in_aggressive_subtypes(patients: list[dict]) -> None:
    median = {
        s: np.median([p["ki67_pct"] for p in patients if p["molecular_subtype"] == s])
        for s in ("luminal_a", "triple_negative")
    }
    assert median["luminal_a"] < 20 < median["triple_negative"]


def test_grade_rises_with_ki67(patients: list[dict]) -> None:
    rho = spearmanr([p["ki67_pct"] for p in patients], [p["histologic_grade"] for p in patients]).statistic
    assert rho > 0.4


def test_nodal_stage_rises_with_size_and_lvi(patients: list[dict]) -> None:
    n_level = np.array([int(p["n_stage"][1]) for p in patients])
    size = np.array([p["tumor_size_mm"] for p in patients])
    lvi = np.array([p["lvi"] for p in patients])
    assert spearmanr(size, n_level).statistic > 0.15
    assert n_level[lvi].mean() > n_level[~lvi].mean() + 0.4


def test_ages_are_adult_and_younger_in_triple_negative(patients: list[dict]) -> None:
    ages = np.array([p["age"] for p in patients])
    assert ages.min() >= 18 and ages.max() <= 100
    tn = np.array([p["molecular_subtype"] == "triple_negative" for p in patients])
    assert ages[tn].mean() < ages[~tn].mean() - 2


def test_case_mix_differs_by_centre() -> None:
    rng = np.random.default_rng(5)
    ages = {c: np.mean([draw_clinical(rng, CENTRES[c])["age"] for _ in range(1500)]) for c in ("A", "B")}
    assert ages["A"] - ages["B"] > 1.0


def test_prevalence_is_near_a_quarter_in_the_default_mix() -> None:
    rng = np.random.default_rng(99)
    probabilities = []
    for centre, n in parse_centres("A=2500,B=1110"):
        for _ in range(n):
            fields = draw_clinical(rng, CENTRES[centre])
            probabilities.append(true_probability(clinical_logit(fields), float(rng.standard_normal())))
    assert np.mean(probabilities) == pytest.approx(0.25, abs=0.02)


def test_risk_factors_raise_the_true_probability() -> None:
    base = {
        "molecular_subtype": "luminal_a",
        "age": 55,
        "n_stage": "N0",
        "histologic_grade": 2,
        "ki67_pct": 25.0,
        "lvi": False,
    }
    p0 = true_probability(clinical_logit(base), 0.0)
    for change in (
        {"molecular_subtype": "triple_negative"},
        {"molecular_subtype": "her2_enriched"},
        {"age": 35},
        {"n_stage": "N2"},
        {"histologic_grade": 3},
        {"ki67_pct": 60.0},
    ):
        assert true_probability(clinical_logit(base | change), 0.0) > p0, change
    assert true_probability(clinical_logit(base), 1.0) > p0  # latent aggressiveness


@pytest.mark.parametrize(
    ("spec", "n", "expected"),
    [("A=250,B=111", None, [("A", 250), ("B", 111)]), ("A,B", 361, [("A", 250), ("B", 111)]), ("C", 7, [("C", 7)])],
)
def test_parse_centres(spec: str, n: int | None, expected: list) -> None:
    assert parse_centres(spec, n) == expected


@pytest.mark.parametrize("spec", ["Z=3", "A=0", "A=2,B", "A,A", ""])
def test_parse_centres_rejects_bad_specs(spec: str) -> None:
    with pytest.raises(ValueError, match=r"centre|count|--centres"):
        parse_centres(spec)
