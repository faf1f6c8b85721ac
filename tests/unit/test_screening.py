"""Screening and the Rad Score on data whose informative features are known."""

from __future__ import annotations

import numpy as np

from sonorisk.radiomics.screening import RadScoreModel, ScreeningParams, drop_redundant, fit_rad_score


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    n = 240
    y = rng.random(n) < 0.3
    informative = np.column_stack([y * 1.2 + rng.normal(size=n), -1.0 * y + rng.normal(size=n)])
    copy = informative[:, :1] * 2.0 + 0.01 * rng.normal(size=(n, 1))  # redundant with the first
    noise = rng.normal(size=(n, 30))
    x = np.column_stack([informative, copy, noise, np.full(n, 5.0)])  # and a constant column
    names = ["good_a", "good_b", "copy_of_a"] + [f"noise_{i}" for i in range(30)] + ["constant"]
    return x, y, names


def test_lasso_keeps_the_informative_features_and_drops_copies() -> None:
    x, y, names = _data()
    model = fit_rad_score(x, y, names, ScreeningParams(seed=1))
    assert "constant" not in model.steps["non_constant"]
    assert {"good_a", "good_b"} <= set(model.steps["mann_whitney"])
    assert not {"good_a", "copy_of_a"} <= set(model.steps["spearman_non_redundant"])
    assert "good_b" in model.features
    assert "good_a" in model.features or "copy_of_a" in model.features
    assert sum(f.startswith("noise_") for f in model.features) <= 3
    weights = dict(zip(model.features, model.coefficients, strict=True))
    assert weights["good_b"] < 0  # the sign follows the association


def test_rad_score_round_trips_through_json_and_imputes_missing() -> None:
    x, y, names = _data(1)
    model = fit_rad_score(x, y, names, ScreeningParams(seed=2))
    again = RadScoreModel.from_json(model.to_json())
    columns = [names.index(f) for f in model.features]
    sample = x[:5][:, columns].copy()
    assert np.array_equal(model.score(sample), again.score(sample))
    sample[0, 0] = np.nan
    assert np.isfinite(again.score(sample)).all()


def test_redundancy_walk_keeps_the_first_of_correlated_features() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=100)
    z = np.column_stack([base, base + 0.001 * rng.normal(size=100), rng.normal(size=100)])
    assert drop_redundant(z, np.array([1, 0, 2]), 0.9) == [1, 2]


def test_rad_score_clips_each_feature_to_its_training_range() -> None:
    x, y, names = _data(2)
    model = fit_rad_score(x, y, names, ScreeningParams(seed=3))
    columns = [names.index(f) for f in model.features]
    training = x[:, columns]
    top = training.max(axis=0)
    far = top + 1000.0  # an out-of-range image: a linear score would run off without bound
    assert np.allclose(model.score(far[None, :]), model.score(top[None, :]))
    # Inside the range nothing changes: the score is the hand-computed linear predictor.
    z = (training[:3] - np.asarray(model.means)) / np.asarray(model.stds)
    assert np.allclose(model.score(training[:3]), model.intercept + z @ np.asarray(model.coefficients))
