"""ComBat (stats/combat.py) against the reference implementation's output (neuroCombat 0.2.12, run
by tests/golden/make_combat_golden.py), a hand case without shrinkage, frozen estimates applied to
new rows, a new batch estimated against the frozen standardisation, and JSON round trips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sonorisk.stats.combat import CombatError, CombatEstimates, add_batch, fit_combat, harmonise

GOLDEN = json.loads((Path(__file__).resolve().parents[1] / "golden" / "combat_neurocombat.json").read_text())
X = np.asarray(GOLDEN["x"])
BATCH = GOLDEN["batch"]
NAMES = [f"f{i}" for i in range(X.shape[1])]


def test_harmonised_features_and_estimates_equal_neurocombats() -> None:
    fitted = fit_combat(X, BATCH, NAMES)
    np.testing.assert_allclose(harmonise(X, BATCH, fitted), np.asarray(GOLDEN["all"]["data"]), rtol=1e-9, atol=1e-9)
    gamma, delta = np.asarray(GOLDEN["all"]["gamma_star"]), np.asarray(GOLDEN["all"]["delta_star"])
    for row, batch in enumerate(GOLDEN["all"]["batches"]):
        np.testing.assert_allclose(fitted.gamma[batch], gamma[row], rtol=1e-9)
        np.testing.assert_allclose(fitted.delta[batch], delta[row], rtol=1e-9)


def test_a_reference_batch_stays_as_it_was_and_the_others_match_neurocombat() -> None:
    fitted = fit_combat(X, BATCH, NAMES, reference="A")
    out = harmonise(X, BATCH, fitted)
    np.testing.assert_allclose(out, np.asarray(GOLDEN["reference_A"]["data"]), rtol=1e-9, atol=1e-9)
    is_a = np.array([b == "A" for b in BATCH])
    assert np.array_equal(out[is_a], X[is_a])


def test_without_shrinkage_each_batch_gets_the_pooled_location_and_scale_by_hand() -> None:
    # Batch means 2 and 12: the grand mean is 7; the pooled variance (divisor n) is (1+0+1)*2/6 = 2/3.
    # On that scale each batch's variance (divisor n_i - 1) is 1 / (2/3) = 1.5, and a row one unit off
    # its batch mean ends 1 / sqrt(1.5) off 7: both batches at 7 -+ 0.816.
    x = np.array([[1.0], [2.0], [3.0], [11.0], [12.0], [13.0]])
    fitted = fit_combat(x, ["a"] * 3 + ["b"] * 3, ["f"], empirical_bayes=False)
    assert fitted.grand_mean.tolist() == [7.0] and fitted.pooled_sd[0] == pytest.approx(np.sqrt(2 / 3))
    assert fitted.gamma["a"][0] == pytest.approx(-5 / np.sqrt(2 / 3)) and fitted.delta["a"][0] == pytest.approx(1.5)
    step = 1 / np.sqrt(1.5)
    expected = [7 - step, 7, 7 + step] * 2
    assert harmonise(x, ["a"] * 3 + ["b"] * 3, fitted).ravel().tolist() == pytest.approx(expected)


def test_frozen_estimates_apply_to_new_rows_and_a_new_batch_is_estimated_against_them() -> None:
    rng = np.random.default_rng(4)
    fitted = fit_combat(X, BATCH, NAMES)
    restored = CombatEstimates.from_dict(json.loads(json.dumps(fitted.to_dict())))
    np.testing.assert_array_equal(harmonise(X, BATCH, restored), harmonise(X, BATCH, fitted))
    # New rows of batch B, drawn like B's: after harmonising they sit where training rows of B went.
    b_rows = X[np.array([b == "B" for b in BATCH])]
    new = b_rows[rng.integers(0, len(b_rows), 200)] + rng.normal(0, 0.05, (200, X.shape[1]))
    target = harmonise(b_rows, ["B"] * len(b_rows), fitted).mean(axis=0)
    shift = (harmonise(new, ["B"] * 200, fitted).mean(axis=0) - target) / fitted.pooled_sd
    assert np.abs(shift).max() < 0.15
    with pytest.raises(CombatError, match="batch 'D' has no ComBat estimates"):
        harmonise(new, ["D"] * 200, fitted)
    # A scanner unseen in training: shifted and stretched; estimated from its own rows, it lands on
    # the training distribution, and nothing estimated before changes.
    other = X * 1.7 + 4.0
    extended = add_batch(fitted, other, "D", empirical_bayes=False)
    assert extended.gamma["A"] is fitted.gamma["A"] and extended.rows["D"] == len(X)
    moved = harmonise(other, ["D"] * len(X), extended)
    np.testing.assert_allclose(moved.mean(axis=0), fitted.grand_mean, atol=1e-9)
    np.testing.assert_allclose(moved.std(axis=0, ddof=1), fitted.pooled_sd, rtol=1e-9)


def test_rows_combat_cannot_use_are_refused_in_one_line() -> None:
    with pytest.raises(CombatError, match="batch 'C' has 1 row"):
        fit_combat(X[:16], [*BATCH[:15], "C"], NAMES)
    with pytest.raises(CombatError, match="reference batch 'Z'"):
        fit_combat(X, BATCH, NAMES, reference="Z")
    flat = X.copy()
    flat[:, 2] = 1.0
    with pytest.raises(CombatError, match="feature 'f2' does not vary"):
        fit_combat(flat, BATCH, NAMES)


COVARIATES = GOLDEN["covariates"]


@pytest.mark.parametrize(("case", "reference"), [("all", None), ("reference_A", "A")])
def test_protected_covariates_match_neurocombats_continuous_cols(case: str, reference: str | None) -> None:
    x = np.asarray(COVARIATES["x"])
    covariates = np.column_stack([COVARIATES["size"], COVARIATES["age"]])
    fitted = fit_combat(x, BATCH, NAMES, reference, covariates=covariates, covariate_names=["size", "age"])
    out = harmonise(x, BATCH, fitted, covariates)
    np.testing.assert_allclose(out, np.asarray(COVARIATES[case]["data"]), rtol=1e-9, atol=1e-9)
    gamma, delta = np.asarray(COVARIATES[case]["gamma_star"]), np.asarray(COVARIATES[case]["delta_star"])
    for row, batch in enumerate(sorted(set(BATCH))):  # neuroCombat numbers the levels in sorted order
        if batch != reference:
            np.testing.assert_allclose(fitted.gamma[batch], gamma[row], rtol=1e-9)
            np.testing.assert_allclose(fitted.delta[batch], delta[row], rtol=1e-6)
    restored = CombatEstimates.from_dict(json.loads(json.dumps(fitted.to_dict())))
    np.testing.assert_array_equal(harmonise(x, BATCH, restored, covariates), out)


def test_a_new_centre_with_larger_tumours_keeps_the_size_effect_by_hand() -> None:
    # One feature = 2 x size + noise +-1 (pattern + - - +, orthogonal to a linear size). Training:
    # scanner "a", sizes 10..30. A new centre "b" has larger tumours (20..40) and a scanner offset of
    # +5. Without covariates ComBat moves b's mean (65) onto a's (40), removing the 20 its larger
    # tumours earned. With size protected: beta 2, grand mean 40, residual sd 1; b's location is 5
    # and its variance 20/19 (divisor n - 1), so b ends at 2 x size + noise x sqrt(19/20), mean 60.
    noise = np.tile([1.0, -1.0, -1.0, 1.0], 5)
    size_a, size_b = np.linspace(10, 30, 20), np.linspace(20, 40, 20)
    x_a, x_b = (2 * size_a + noise)[:, None], (2 * size_b + 5 + noise)[:, None]
    plain = add_batch(fit_combat(x_a, ["a"] * 20, ["f"], empirical_bayes=False), x_b, "b", empirical_bayes=False)
    assert harmonise(x_b, ["b"] * 20, plain).mean() == pytest.approx(40.0)
    fitted = fit_combat(
        x_a, ["a"] * 20, ["f"], empirical_bayes=False, covariates=size_a[:, None], covariate_names=["size"]
    )
    assert fitted.beta[0, 0] == pytest.approx(2.0) and fitted.covariate_mean[0] == pytest.approx(20.0)
    assert fitted.grand_mean[0] == pytest.approx(40.0) and fitted.pooled_sd[0] == pytest.approx(1.0)
    protected = add_batch(fitted, x_b, "b", empirical_bayes=False, covariates=size_b[:, None])
    assert protected.gamma["b"][0] == pytest.approx(5.0) and protected.delta["b"][0] == pytest.approx(20 / 19)
    out = harmonise(x_b, ["b"] * 20, protected, size_b[:, None]).ravel()
    np.testing.assert_allclose(out, 2 * size_b + noise * np.sqrt(19 / 20))
    # A missing covariate value counts as the fitting rows' mean (no protection, no failure).
    assert fitted.standard_mean(np.array([[np.nan]]))[0, 0] == pytest.approx(40.0)
    with pytest.raises(CombatError, match="protect covariates"):
        add_batch(fitted, x_b, "b")
    with pytest.raises(CombatError, match="confounded with the batches"):
        fit_combat(
            np.vstack([x_a, x_b]),
            ["a"] * 20 + ["b"] * 20,
            ["f"],
            covariates=np.r_[np.zeros(20), np.ones(20)][:, None],
            covariate_names=["centre_b"],
        )
