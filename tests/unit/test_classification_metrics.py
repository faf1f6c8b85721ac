"""Metrics at a threshold against a confusion matrix counted by hand; thresholds, Brier, calibration
and net benefit against hand calculations and simulated data with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from sonorisk.stats.classification import (
    at_threshold,
    brier,
    calibration_intercept_slope,
    net_benefit,
    sensitivity_threshold,
    treat_all_net_benefit,
    youden_threshold,
)

# Ten patients, counted by hand at threshold 0.5 (score >= 0.5 is called positive):
#   labels 1 1 1 1 0 0 0 0 0 0
#   scores .9 .8 .5 .2 .7 .4 .3 .1 .6 .05
#   called  P  P  P  N  P  N  N  N  P  N
# TP = 3 (.9 .8 .5), FN = 1 (.2), FP = 2 (.7 .6), TN = 4 (.4 .3 .1 .05)
LABELS = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
SCORES = np.array([0.9, 0.8, 0.5, 0.2, 0.7, 0.4, 0.3, 0.1, 0.6, 0.05])


def test_metrics_match_the_hand_counted_confusion_matrix() -> None:
    m = at_threshold(LABELS, SCORES, 0.5)
    assert (m.tp, m.fn, m.fp, m.tn) == (3, 1, 2, 4)
    assert m.accuracy == pytest.approx(7 / 10)
    assert m.sensitivity == pytest.approx(3 / 4)
    assert m.specificity == pytest.approx(4 / 6)
    assert m.ppv == pytest.approx(3 / 5)
    assert m.npv == pytest.approx(4 / 5)
    assert m.f1 == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))


def test_undefined_ratios_are_nan_not_errors() -> None:
    m = at_threshold(np.array([0, 0]), np.array([0.1, 0.2]), 0.5)
    assert np.isnan(m.sensitivity) and np.isnan(m.ppv)
    assert m.specificity == 1.0


def test_youden_threshold_by_hand() -> None:
    # J = sensitivity + specificity - 1 at each observed score (hand): .05 -> 0; .1 -> 1/6; .2 -> 2/6;
    # .3 -> 3/4 + 2/6 - 1; .4 -> 3/4 + 3/6 - 1; .5 -> 3/4 + 4/6 - 1 = .417; .6 -> 2/4 + 4/6 - 1;
    # .7 -> 2/4 + 5/6 - 1 = .333; .8 -> 2/4 + 6/6 - 1 = .5 (the maximum); .9 -> 1/4
    assert youden_threshold(LABELS, SCORES) == pytest.approx(0.8)


def test_sensitivity_threshold_reaches_the_target() -> None:
    t = sensitivity_threshold(LABELS, SCORES, 0.9)
    assert t == pytest.approx(0.2)  # 4 positives: 90 % needs all four, the lowest positive is .2
    assert at_threshold(LABELS, SCORES, t).sensitivity >= 0.9
    assert sensitivity_threshold(LABELS, SCORES, 0.5) == pytest.approx(0.8)  # two of four


def test_brier_by_hand() -> None:
    assert brier(np.array([1, 0]), np.array([0.8, 0.3])) == pytest.approx((0.2**2 + 0.3**2) / 2)


def test_calibration_of_a_calibrated_and_an_overconfident_model() -> None:
    rng = np.random.default_rng(7)
    p = rng.uniform(0.02, 0.98, 20000)
    y = rng.random(p.size) < p
    intercept, slope = calibration_intercept_slope(y, p)
    assert intercept == pytest.approx(0.0, abs=0.06)
    assert slope == pytest.approx(1.0, abs=0.06)
    # Doubling the logit makes predictions too extreme: the recalibration slope is about 1/2.
    logit = np.log(p / (1 - p))
    _, overconfident = calibration_intercept_slope(y, 1 / (1 + np.exp(-2 * logit)))
    assert overconfident == pytest.approx(0.5, abs=0.04)


def test_net_benefit_by_hand() -> None:
    # pt = 0.25: called = scores >= .25 -> TP 3 (.9 .8 .5), FP 4 (.7 .4 .3 .6); n = 10
    expected = 3 / 10 - 4 / 10 * 0.25 / 0.75
    assert net_benefit(LABELS, SCORES, np.array([0.25]))[0] == pytest.approx(expected)
    # Treat all: prevalence .4 - .6 * pt / (1 - pt)
    assert treat_all_net_benefit(LABELS, np.array([0.25]))[0] == pytest.approx(0.4 - 0.6 / 3)
    # Calling everyone positive gives the treat-all curve.
    assert net_benefit(LABELS, np.ones(10), np.array([0.1, 0.3])) == pytest.approx(
        treat_all_net_benefit(LABELS, np.array([0.1, 0.3]))
    )
