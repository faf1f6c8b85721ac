"""Leakage: the DL zoo's fits, early-stopping decisions and architecture choice read training rows
only; the internal-validation and external rows are scored afterwards, to report.

Two proofs on a small cohort of persons with 2-4 images each: every ``train_model`` call (a fit, and
the rows whose AUC stops it) is recorded and its crops traced back to their rows; and the whole
zoo is run again with every non-training row's outcome flipped and its images exchanged, which
must leave every fit, decision, choice and out-of-fold score as it was."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sonorisk.deep import zoo as zoo_module
from sonorisk.deep.train import TrainConfig
from sonorisk.imaging.codec import encode_png

_REAL_TRAIN = zoo_module.train_model
_REAL_SELECT = zoo_module.select_architecture
ZOO = {
    "vit_small": {"input_size": 16, "patch_size": 8, "embed_dim": 16, "depth": 1, "num_heads": 2},
    "resnet34_vit": {"input_size": 16, "stride": 16, "embed_dim": 16, "depth": 1, "num_heads": 2},
}
CONFIG = TrainConfig(epochs=3, batch_size=16, min_epochs=1, patience=1, threads=1)


def _cohort(seed: int) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray, list[str]]:
    """Persons with 2-4 images; the split keeps a person whole; outcomes shift the lesion's brightness."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((24, 24), np.uint8)
    mask[8:16, 8:16] = 255
    rows, outcome, persons, split = [], [], [], []
    for p in range(40):
        positive = bool(rng.random() < 0.4)
        where = "training" if p % 5 < 3 else ("internal_validation" if p % 5 == 3 else "external")
        for _ in range(int(rng.integers(2, 5))):
            image = rng.integers(0, 200, (24, 24)).astype(np.uint8)
            image[8:16, 8:16] += np.uint8(50 if positive else 0)
            rows.append({"image_png": encode_png(image), "mask_png": encode_png(mask)})
            outcome.append(positive)
            persons.append(f"c|person{p}")
            split.append(where)
    return rows, np.array(split, dtype=object), np.array(outcome), persons


def _run(rows: list[dict[str, Any]], split: np.ndarray, y: np.ndarray, persons: list[str]) -> Any:
    return zoo_module.train_zoo(ZOO, rows, split, y, CONFIG, folds=3, log=lambda _: None, persons=persons)


def test_every_fit_and_stopping_decision_reads_training_rows_only(monkeypatch: pytest.MonkeyPatch) -> None:
    rows, split, y, persons = _cohort(seed=11)
    fits: list[tuple[np.ndarray, np.ndarray]] = []
    selections: list[dict[str, Any]] = []

    def recorded_train(name: str, train_crops: np.ndarray, train_y: Any, val_crops: np.ndarray, *rest: Any) -> Any:
        fits.append((train_crops.copy(), val_crops.copy()))
        return _REAL_TRAIN(name, train_crops, train_y, val_crops, *rest)

    def recorded_select(candidates: dict[str, Any], prefer: Any = ()) -> Any:
        selections.append(
            {name: estimate.n_positive + estimate.n_negative for name, (estimate, _) in candidates.items()}
        )
        return _REAL_SELECT(candidates, prefer)

    monkeypatch.setattr(zoo_module, "train_model", recorded_train)
    monkeypatch.setattr(zoo_module, "select_architecture", recorded_select)
    result = _run(rows, split, y, persons)

    crops, _ = zoo_module.CropCache(rows).get(zoo_module.preprocess_for(ZOO["vit_small"]))
    row_of = {crop.tobytes(): i for i, crop in enumerate(crops)}
    assert len(row_of) == len(rows), "crops must identify their rows"
    training = set(np.flatnonzero(split == "training").tolist())
    assert len(fits) == len(ZOO) * 3  # three fold models per architecture, nothing else trained
    for train_crops, val_crops in fits:
        fitted = {row_of[c.tobytes()] for c in train_crops}
        stopped_on = {row_of[c.tobytes()] for c in val_crops}
        assert fitted <= training and stopped_on <= training, "a fit or its early stopping read a non-training row"
        assert not fitted & stopped_on
        assert not {persons[i] for i in fitted} & {persons[i] for i in stopped_on}, "a person on both sides"
    # The choice saw one out-of-fold estimate per architecture, over exactly the training images.
    assert selections == [dict.fromkeys(ZOO, len(training))]
    assert np.isnan(result.oof_scores[split != "training"]).all()
    assert not np.isnan(result.oof_scores[split == "training"]).any()
    # The reported AUCs exist for the other splits (they are scored, after the choice).
    assert {"internal_validation", "external"} <= set(result.metrics[result.winner])


def test_non_training_rows_change_nothing_that_was_fitted_or_chosen() -> None:
    import torch

    rows, split, y, persons = _cohort(seed=12)
    first = _run(rows, split, y, persons)

    others = np.flatnonzero(split != "training")
    changed_rows = list(rows)
    for i, j in zip(others, others[::-1], strict=True):  # exchange the non-training images
        changed_rows[i] = rows[j]
    changed_y = y.copy()
    changed_y[others] = ~changed_y[others]  # and flip their outcomes
    second = _run(changed_rows, split, changed_y, persons)

    assert second.winner == first.winner
    assert second.selection == first.selection
    np.testing.assert_array_equal(second.oof_scores, first.oof_scores)
    for name in ZOO:
        assert second.metrics[name]["folds"] == first.metrics[name]["folds"]
        assert second.metrics[name]["oof_training"] == first.metrics[name]["oof_training"]
    first_state, second_state = first.model.state_dict(), second.model.state_dict()
    assert first_state.keys() == second_state.keys()
    assert all(torch.equal(first_state[k], second_state[k]) for k in first_state)
    # ...while what is reported on those rows did change: the check can see them.
    assert second.metrics[first.winner]["internal_validation"] != first.metrics[first.winner]["internal_validation"]
