"""The shared modelling helpers: folds keep persons whole, out-of-fold scores come from models that
never saw the row and are put on the final model's scale, the AUC agrees with the pairwise count."""

from __future__ import annotations

import numpy as np
import pytest

from sonorisk.modelling.folds import fold_count, stratified_folds
from sonorisk.modelling.oof import out_of_fold
from sonorisk.stats.auc import auc


def _pairwise_auc(y: np.ndarray, s: np.ndarray) -> float:
    """The Mann-Whitney definition, counted pair by pair (ties one half)."""
    pos, neg = s[y], s[~y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (pos.size * neg.size)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_is_the_pairwise_probability(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.random(60) < 0.3
    s = np.round(rng.random(60), 1)  # rounded: many ties
    assert auc(y, s) == pytest.approx(_pairwise_auc(y, s), abs=1e-12)


def test_fold_count_is_clamped_by_the_rarer_class_in_persons() -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0], dtype=bool)
    assert fold_count(10, y) == 3
    assert fold_count(10, y, groups=["a", "a", "b", "c", "d", "e", "f", "g"]) == 2  # persons a, b positive
    assert fold_count(10, y[:1]) == 2


def test_grouped_folds_keep_every_person_on_one_side_and_stratify() -> None:
    rng = np.random.default_rng(5)
    persons = [f"p{i}" for i in range(40) for _ in range(int(rng.integers(1, 5)))]
    risk = {p: rng.random() < 0.3 for p in set(persons)}
    y = np.array([risk[p] for p in persons])
    folds = stratified_folds(y, 4, seed=9, groups=persons)
    assert len(folds) == 4
    held_all = np.concatenate([held for _, held in folds])
    assert sorted(held_all.tolist()) == list(range(len(persons)))  # each row held out exactly once
    for fit, held in folds:
        assert not {persons[i] for i in fit} & {persons[i] for i in held}
        assert 0 < y[held].sum() < held.size  # both outcomes in every held-out fold


def test_one_row_per_person_folds_do_not_depend_on_passing_groups() -> None:
    y = np.random.default_rng(3).random(30) < 0.4
    plain = stratified_folds(y, 5, seed=4)
    grouped = stratified_folds(y, 5, seed=4, groups=[f"p{i}" for i in range(30)])
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(plain, grouped, strict=True))


def test_out_of_fold_scores_come_from_other_rows_and_are_aligned_to_the_final_scale() -> None:
    n = 24
    y = np.arange(n) % 3 == 0
    train = np.arange(16)
    reference = np.arange(16, 24)
    final_reference = np.linspace(-1.0, 1.0, reference.size)
    seen: list[tuple[set[int], set[int]]] = []

    def score_fold(fold: int, fit: np.ndarray, held: np.ndarray, ref: np.ndarray):
        seen.append(({int(i) for i in fit}, {int(i) for i in held}))
        offset, spread = 10.0 * (fold + 1), 2.0 + fold  # each fold model has its own scale
        held_scores = {"s": offset + spread * held.astype(float)}
        ref_scores = {"s": offset + spread * final_reference}
        assert np.array_equal(ref, reference)
        return held_scores, ref_scores

    out = out_of_fold(train, y, reference, {"s": final_reference}, {"s": "linear"}, score_fold, k=4, seed=0)
    # Hand calculation: the fold model reads offset + spread * x on the reference rows where the final
    # model reads x, so aligning maps offset + spread * i back to i for every held-out row.
    assert out["s"][train] == pytest.approx(train.astype(float))
    assert np.isnan(out["s"][reference]).all()
    assert all(not fit & held for fit, held in seen)
    assert set().union(*(held for _, held in seen)) == set(train.tolist())
