"""The normalising transform around ComBat (stats/normalising.py): Box-Cox's lambda is the maximum of
Box and Cox's profile likelihood (computed here on a grid from the 1964 formula), each kind maps
back to the values it was given, values outside the fitted range stay finite, and a scanner that
scales a skewed feature is harmonised to PSI < 0.25 with the transform where ComBat alone is not."""

from __future__ import annotations

import json

import numpy as np

from sonorisk.radiomics.harmonisation import FeatureHarmoniser
from sonorisk.stats.normalising import NormalisingTransform
from sonorisk.stats.psi import psi, reference_of


def _profile_likelihood(x: np.ndarray, lam: float) -> float:
    """Box and Cox (1964), eq. 9: the log likelihood maximised over mean and variance."""
    y = np.log(x) if lam == 0 else (x**lam - 1) / lam
    return -len(x) / 2 * np.log(y.var()) + (lam - 1) * np.log(x).sum()


def test_box_cox_lambda_is_the_profile_likelihood_maximum() -> None:
    rng = np.random.default_rng(4)
    gamma = rng.gamma(2.0, 3.0, 400)  # skewed right: lambda between 0 and 1
    lognormal = np.exp(rng.normal(1.0, 0.8, 400))  # lambda near 0
    fitted = NormalisingTransform.fit(np.column_stack([gamma, lognormal]), ["g", "l"])
    assert fitted.kinds == ["box-cox", "box-cox"]
    grid = np.round(np.arange(-2.0, 2.0005, 0.001), 3)
    for j, column in enumerate((gamma, lognormal)):
        best = grid[np.argmax([_profile_likelihood(column, lam) for lam in grid])]
        assert abs(fitted.lam[j] - best) <= 0.0015  # the fit is rounded to 3 decimals
    assert 0.1 < fitted.lam[0] < 0.6 and abs(fitted.lam[1]) < 0.15


def test_kinds_round_trip_and_out_of_range_values_stay_finite() -> None:
    rng = np.random.default_rng(5)
    heavy_signed = rng.standard_t(2, 300) * 50  # zero and negative values, long tails: asinh
    symmetric = rng.normal(0.0, 1.0, 300)  # normal as it is: none
    positive = rng.gamma(1.5, 2.0, 300)
    x = np.column_stack([heavy_signed, symmetric, positive])
    fitted = NormalisingTransform.fit(x, ["t", "n", "g"])
    assert fitted.kinds == ["asinh", "none", "box-cox"]
    np.testing.assert_allclose(fitted.inverse(fitted.forward(x)), x, rtol=1e-9, atol=1e-9)
    # A value at or below zero where training was positive is read at the floor, not as NaN.
    later = np.array([[1e6, 0.0, 0.0], [-1e6, 1.0, -3.0], [np.nan, np.nan, np.nan]])
    forward = fitted.forward(later)
    assert np.isfinite(forward[:2]).all() and np.isnan(forward[2]).all()
    assert np.isclose(fitted.inverse(forward)[1, 2], fitted.floor[2], rtol=1e-12)
    # Harmonised values beyond the transform's range come back finite.
    assert np.isfinite(fitted.inverse(np.full((1, 3), -1e3))).all()
    again = NormalisingTransform.from_dict(json.loads(json.dumps(fitted.to_dict())), fitted.features)
    np.testing.assert_array_equal(again.forward(later), forward)


def test_a_scanner_scaling_a_skewed_feature_is_harmonised_with_the_transform() -> None:
    """Scanner B multiplies a log-normal texture feature by 3 and squares its spread on the log
    scale: a change of shape on the raw scale that ComBat's shift and scale cannot undo."""
    rng = np.random.default_rng(6)
    training = np.exp(rng.normal(-2.0, 1.0, (600, 1)))
    night = np.exp(-2.0 + rng.normal(0.0, 1.4, (600, 1)) + np.log(3.0))
    reference = reference_of(training[:, 0].tolist())
    before = psi(reference, night[:, 0].tolist())
    after = {}
    for transform in ("none", "normalise"):
        fitted = FeatureHarmoniser.fit(training, ["A"] * 600, ["energy"], "scanner", 20, transform)
        extended, record = fitted.with_new_batches(night, ["B"] * 600)
        assert record["B"]["harmonised"]
        after[transform] = psi(reference, extended.apply(night, ["B"] * 600)[0][:, 0].tolist())
    assert before > 0.5, after
    assert after["normalise"] < 0.05 < 0.25 < after["none"]
