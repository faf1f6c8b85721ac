"""DeLong's AUC variance against a direct O(n^2) structural-components computation written here
independently, its coverage on binormal data with a known AUC, and the paired test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from sonorisk.stats.delong import auc_ci, delong_covariance, delong_test


def _direct(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float]:
    """DeLong et al. (1988) by definition: psi(X, Y) = 1 if X > Y, 1/2 if equal, 0 else."""

    def components(s: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        pos, neg = s[y], s[~y]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        return psi.mean(), psi.mean(axis=1), psi.mean(axis=0)

    auc_a, v10_a, v01_a = components(a)
    auc_b, v10_b, v01_b = components(b)
    m, n = v10_a.size, v01_a.size
    s10 = np.cov(np.vstack([v10_a, v10_b]))
    s01 = np.cov(np.vstack([v01_a, v01_b]))
    cov = s10 / m + s01 / n
    return auc_a, cov[0, 0], auc_b, cov[0, 1]


def test_matches_the_direct_structural_components() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(80) < 0.3
    a = np.round(y * 1.0 + rng.normal(size=80), 1)  # rounding makes ties
    b = np.round(y * 0.5 + rng.normal(size=80), 1)
    auc_a, var_a, auc_b, cov_ab = _direct(y, a, b)
    aucs, cov = delong_covariance(y, np.vstack([a, b]))
    assert aucs[0] == pytest.approx(auc_a, abs=1e-12)
    assert aucs[1] == pytest.approx(auc_b, abs=1e-12)
    assert cov[0, 0] == pytest.approx(var_a, rel=1e-10)
    assert cov[0, 1] == pytest.approx(cov_ab, rel=1e-10)


def test_ci_covers_the_true_auc_about_95_percent_of_the_time() -> None:
    """Binormal: negatives N(0,1), positives N(d,1): true AUC = Phi(d / sqrt(2))."""
    rng = np.random.default_rng(2026)
    d = 1.0
    true_auc = norm.cdf(d / np.sqrt(2))
    covered = 0
    for _ in range(1000):
        y = np.r_[np.ones(60, bool), np.zeros(90, bool)]
        s = np.where(y, rng.normal(d, 1, y.size), rng.normal(0, 1, y.size))
        est = auc_ci(y, s)
        covered += est.low <= true_auc <= est.high
    assert 930 <= covered <= 970


def test_paired_test_is_antisymmetric_and_detects_a_real_difference() -> None:
    rng = np.random.default_rng(3)
    y = rng.random(400) < 0.4
    strong = y * 1.5 + rng.normal(size=400)
    weak = y * 0.2 + rng.normal(size=400)
    diff, p = delong_test(y, strong, weak)
    diff_rev, p_rev = delong_test(y, weak, strong)
    assert diff == pytest.approx(-diff_rev)
    assert p == pytest.approx(p_rev)
    assert diff > 0
    assert p < 1e-6
    assert delong_test(y, strong, strong) == (0.0, 1.0)


def test_hand_counted_auc() -> None:
    # Positives {0.4, 0.8, 0.9} vs negatives {0.1, 0.3, 0.6}: 8 of 9 pairs ordered -> 8/9.
    y = np.array([0, 0, 0, 1, 1, 1], bool)
    assert auc_ci(y, np.array([0.1, 0.3, 0.6, 0.4, 0.8, 0.9])).auc == pytest.approx(8 / 9)
