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
