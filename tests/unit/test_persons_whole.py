"""Leakage: persons with several images never sit on both sides of a fold, in any stage's CV.

Every stage draws its folds from ``modelling/folds.stratified_folds``; the architecture test checks
statically that nothing else splits data. Here each stage's fitting code runs for real on persons
with 2-4 images each, with a recorder around that function, and every fold it drew is checked."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from sonorisk.modelling import folds as folds_module
from tests.import_graph import SRC

_REAL = folds_module.stratified_folds
_CALLERS = [
    "sonorisk.modelling.oof",
    "sonorisk.radiomics.model_fit",
    "sonorisk.radiomics.screening",
    "sonorisk.fusion.fit",
    "sonorisk.fusion.calibration",
    "sonorisk.deep.zoo",
]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every call of ``stratified_folds`` in the stages' modules: its groups and the folds it drew."""
    import importlib

    calls: list[dict[str, Any]] = []

    def recorder(y: np.ndarray, k: int, seed: int, groups: Any = None) -> Any:
        drawn = _REAL(y, k, seed, groups)
        calls.append({"groups": None if groups is None else list(groups), "folds": drawn})
        return drawn

    for name in _CALLERS:
        monkeypatch.setattr(importlib.import_module(name), "stratified_folds", recorder)
    return calls


def _persons(n_persons: int, seed: int) -> tuple[list[str], np.ndarray]:
    """2-4 images per person; a person's images share the outcome."""
    rng = np.random.default_rng(seed)
    persons: list[str] = []
    outcome: list[bool] = []
    for p in range(n_persons):
        positive = bool(rng.random() < 0.35)
        for _ in range(int(rng.integers(2, 5))):
            persons.append(f"c|person{p}")
            outcome.append(positive)
    return persons, np.array(outcome)


def _assert_whole(calls: list[dict[str, Any]], persons: set[str]) -> None:
    assert calls, "no folds were drawn"
    for call in calls:
        groups = call["groups"]
        assert groups is not None, "a CV ran without the persons"
        assert set(groups) <= persons
        for fit, held in call["folds"]:
            assert not {groups[i] for i in fit} & {groups[i] for i in held}, "a person on both sides of a fold"


def test_radiomics_stage_folds_keep_persons_whole(recorded: list[dict[str, Any]]) -> None:
    from sonorisk.radiomics.model_fit import fit_radiomics_models
    from tests.small_radiomics import perturbed_robustness, small_params

    persons, y = _persons(70, seed=1)
    n = len(persons)
    rng = np.random.default_rng(2)
    names = [f"original_firstorder_F{j}" for j in range(6)]
    base = {p: rng.normal(size=len(names)) for p in set(persons)}
    x = np.array([base[p] + 0.1 * rng.normal(size=len(names)) for p in persons]) + y[:, None] * 0.8
    split = np.array(["training" if i < int(0.7 * n) else "internal_validation" for i in range(n)])
    split[[i for i, p in enumerate(persons) if p == persons[int(0.7 * n) - 1]]] = "training"  # keep its person whole
    robustness = perturbed_robustness(x, np.flatnonzero(split == "training"), rng)
    params = small_params()
    rows = [{"age": 50} for _ in range(n)]
    fit_radiomics_models(x, names, robustness, rows, split, y, persons, params)
    _assert_whole(recorded, set(persons))
    # The final fit's LASSO CV and XGBoost grid, the out-of-fold split (4 folds), one LASSO CV per fold
    # model (the fold models reuse the final grid point).
    assert len(recorded) == 2 + 1 + 4


def test_fusion_folds_keep_persons_whole(recorded: list[dict[str, Any]]) -> None:
    from sonorisk.fusion.fit import FusionParams, fit_fusion
    from sonorisk.modelling.xgb import XgbSearch

    persons, y = _persons(60, seed=3)
    rng = np.random.default_rng(4)
    scores = {"rad_score": y + rng.normal(size=y.size), "dl_score": rng.random(y.size)}
    params = FusionParams(logistic_cs=(1.0,), score_scales=(1.0,), xgb_grid=XgbSearch(n_estimators=()))
    fit_fusion([{"age": 50} for _ in persons], scores, y, params, persons)
    _assert_whole(recorded, set(persons))
    assert len(recorded) == 2  # model selection CV and calibration CV


def test_dl_cross_validation_keeps_persons_whole(recorded: list[dict[str, Any]]) -> None:
    from sonorisk.deep.train import TrainConfig
    from sonorisk.deep.zoo import train_zoo
    from sonorisk.imaging.codec import encode_png

    persons, y = _persons(24, seed=5)
    rng = np.random.default_rng(6)
    mask = np.zeros((24, 24), np.uint8)
    mask[8:16, 8:16] = 255
    rows = [
        {"image_png": encode_png(rng.integers(0, 255, (24, 24), dtype=np.uint8)), "mask_png": encode_png(mask)}
        for _ in persons
    ]
    split = np.array(["training" if i % 4 else "internal_validation" for i in range(len(persons))], dtype=object)
    for i, p in enumerate(persons):  # a person's images share a split
        split[i] = split[persons.index(p)]
    config = TrainConfig(epochs=1, batch_size=16, min_epochs=1, threads=1)
    zoo = {"vit_small": {"input_size": 16, "patch_size": 8, "embed_dim": 16, "depth": 1, "num_heads": 2}}
    train_zoo(zoo, rows, split, y, config, folds=3, log=lambda _: None, persons=persons)
    _assert_whole(recorded, set(persons))
    assert len(recorded) == 1  # one set of folds: every architecture's fold models and the out-of-fold scores


def _splitters_used(path: Any) -> list[str]:
    tree = ast.parse(path.read_text())
    return [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "sklearn.model_selection"
        for alias in node.names
    ]


def test_no_stage_splits_data_outside_the_folds_helper() -> None:
    offenders: dict[str, Callable[..., Any] | list[str]] = {}
    for path in sorted((SRC / "sonorisk").rglob("*.py")):
        if path.name == "folds.py" and path.parent.name == "modelling":
            continue
        used = _splitters_used(path)
        if used:
            offenders[str(path.relative_to(SRC))] = used
    assert offenders == {}, "folds must come from modelling/folds.py (persons whole)"
