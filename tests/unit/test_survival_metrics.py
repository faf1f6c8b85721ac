"""Survival metrics against references computed here, not by the code under test: a brute-force
pairwise count for Harrell's C, hand-worked IPCW sums for Uno's C and td-AUC, a hand Kaplan-Meier
table, and the calibration slope of a known event-time model."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from sonorisk.stats.survival import (
    bootstrap,
    calibration_at,
    harrell_c,
    kaplan_meier,
    km_risk_at,
    logrank,
    td_auc,
    uno_c,
)

# Ties in time (an event and a censoring at t=3, two events at t=5) and in risk (0.5 twice).
TIES_TIME = np.array([2, 3, 3, 5, 5, 8, 9], dtype=float)
TIES_EVENT = np.array([1, 1, 0, 1, 1, 0, 1], dtype=bool)
TIES_RISK = np.array([0.9, 0.5, 0.7, 0.5, 0.2, 0.1, 0.3])


def brute_force_harrell(event: np.ndarray, time: np.ndarray, risk: np.ndarray) -> float:
    """Every ordered pair: i's event comes first (or at the same time as j's censoring) -> comparable."""
    concordant = comparable = 0.0
    for i in range(time.size):
        for j in range(time.size):
            if i == j or not event[i]:
                continue
            if time[i] < time[j] or (time[i] == time[j] and not event[j]):
                comparable += 1
                concordant += 1.0 if risk[i] > risk[j] else (0.5 if risk[i] == risk[j] else 0.0)
    return concordant / comparable


def test_harrell_c_matches_a_brute_force_pairwise_count_with_ties_and_censoring() -> None:
    # By hand: 15 comparable pairs; 12 concordant + one risk tie (0.5) -> 12.5 / 15.
    assert brute_force_harrell(TIES_EVENT, TIES_TIME, TIES_RISK) == pytest.approx(12.5 / 15)
    assert harrell_c(TIES_EVENT, TIES_TIME, TIES_RISK) == pytest.approx(12.5 / 15, abs=1e-12)


def test_harrell_c_matches_brute_force_on_random_sets_with_ties() -> None:
    rng = np.random.default_rng(19)
    for _ in range(20):
        n = int(rng.integers(5, 30))
        time = rng.integers(1, 8, n).astype(float)
        event = rng.random(n) < 0.6
        event[0] = True
        risk = rng.integers(0, 5, n).astype(float)
        assert harrell_c(event, time, risk) == pytest.approx(brute_force_harrell(event, time, risk), abs=1e-12)


# No ties: censored at 2 and 5. Censoring Kaplan-Meier by hand: G = 1 before 2, 4/5 on [2, 5), 2/5 from 5.
IPCW_TIME = np.array([1, 2, 3, 4, 5, 6], dtype=float)
IPCW_EVENT = np.array([1, 0, 1, 1, 0, 1], dtype=bool)
IPCW_RISK = np.array([0.8, 0.3, 0.6, 0.7, 0.1, 0.2])


def test_uno_c_matches_the_hand_weighted_pair_sum() -> None:
    # Events at 1 (weight 1/G^2 = 1), 3 and 4 (weight 25/16 each):
    #   t=1: 5 pairs, 5 concordant; t=3: 3 pairs, 2 concordant; t=4: 2 pairs, 2 concordant.
    w = Fraction(25, 16)
    expected = (5 + 2 * w + 2 * w) / (5 + 3 * w + 2 * w)
    assert expected == Fraction(36, 41)
    reference = (IPCW_EVENT, IPCW_TIME)
    assert uno_c(reference, IPCW_EVENT, IPCW_TIME, IPCW_RISK) == pytest.approx(float(expected), abs=1e-12)
    # Unweighted, the same pairs give Harrell's 9/10: the weighting is what moved it.
    assert harrell_c(IPCW_EVENT, IPCW_TIME, IPCW_RISK) == pytest.approx(0.9)


def test_td_auc_matches_the_hand_ipcw_computation() -> None:
    # t = 3.5. Cases (event by t): rows 0 (w = 1/G(1) = 1) and 2 (w = 1/G(3) = 5/4).
    # Controls (still free after t): rows 3, 4, 5 with risks .7, .1, .2.
    # Row 0 (.8) outranks all 3; row 2 (.6) outranks 2 of 3.
    expected = (3 * Fraction(1) + 2 * Fraction(5, 4)) / ((1 + Fraction(5, 4)) * 3)
    assert expected == Fraction(22, 27)
    got = td_auc((IPCW_EVENT, IPCW_TIME), IPCW_EVENT, IPCW_TIME, IPCW_RISK, np.array([3.5]))
    assert got[0] == pytest.approx(float(expected), abs=1e-12)


def test_kaplan_meier_matches_the_hand_table() -> None:
    time = np.array([1, 2, 2, 3, 4, 4, 5, 7], dtype=float)
    event = np.array([1, 1, 0, 0, 1, 1, 0, 1], dtype=bool)
    # t=1: 8 at risk, 1 event -> 7/8; t=2: 7 at risk, 1 event -> 3/4; t=3 censored;
    # t=4: 4 at risk, 2 events -> 3/8; t=5 censored; t=7: 1 at risk, 1 event -> 0.
    hand = {1.0: 7 / 8, 2.0: 3 / 4, 3.0: 3 / 4, 4.0: 3 / 8, 5.0: 3 / 8, 7.0: 0.0}
    times, survival = kaplan_meier(event, time)
    assert dict(zip(times.tolist(), survival.tolist(), strict=True)) == pytest.approx(hand)
    for horizon, risk in [(0.5, 0.0), (1.0, 1 / 8), (3.9, 1 / 4), (4.0, 5 / 8), (6.0, 5 / 8), (7.0, 1.0)]:
        assert km_risk_at(event, time, horizon) == pytest.approx(risk)


def _exponential_cohort(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exponential event times with hazard 0.02 * exp(x), uniform censoring on [0, 60]: true risk known."""
    x = rng.standard_normal(n)
    hazard = 0.02 * np.exp(x)
    t_event = rng.exponential(1.0 / hazard)
    t_censor = rng.uniform(0.0, 60.0, n)
    return t_event <= t_censor, np.minimum(t_event, t_censor), hazard


def test_calibration_slope_is_one_for_the_true_risk_and_halves_when_predictions_spread_twice() -> None:
    event, time, hazard = _exponential_cohort(6000, np.random.default_rng(24))
    true_risk = 1.0 - np.exp(-hazard * 24.0)
    cal = calibration_at(event, time, true_risk, 24.0)
    assert cal.slope == pytest.approx(1.0, abs=0.1)
    assert np.allclose(cal.predicted, cal.observed, atol=0.05)
    assert sum(cal.rows) == 6000 and len(cal.rows) == 10
    # cloglog(risk) doubled around its mean: the Cox coefficient on it is 1/2.
    cloglog = np.log(hazard * 24.0)
    spread = 1.0 - np.exp(-np.exp(2.0 * cloglog - cloglog.mean()))
    assert calibration_at(event, time, spread, 24.0).slope == pytest.approx(0.5, abs=0.06)


def test_logrank_separates_groups_with_different_hazards_and_not_equal_ones() -> None:
    rng = np.random.default_rng(5)
    event, time, hazard = _exponential_cohort(2000, rng)
    _, p_real = logrank(event, time, hazard > np.median(hazard))
    _, p_null = logrank(event, time, rng.random(2000) < 0.5)
    assert p_real < 1e-10 and p_null > 0.001


def test_bootstrap_interval_brackets_the_estimate_and_is_seeded() -> None:
    event, time, hazard = _exponential_cohort(400, np.random.default_rng(3))

    def c_of(rows: np.ndarray) -> float:
        return harrell_c(event[rows], time[rows], hazard[rows])

    first = bootstrap(c_of, 400, np.random.default_rng(1), reps=50)
    again = bootstrap(c_of, 400, np.random.default_rng(1), reps=50)
    assert first == again
    assert first.low < first.value < first.high and first.high - first.low < 0.15
