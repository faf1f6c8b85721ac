"""XGBoost, the one way the project builds, tunes, saves and loads it.

Every booster (the radiomics + clinical model, a fusion booster) comes from ``classifier``: one
thread and a fixed seed make the fit deterministic on a CPU. ``grid_search`` is the one
hyper-parameter search: each grid point is scored by cross-validated AUC over the folds it is given.
Boosters are saved as xgboost UBJ (never pickle).

Example:
    >>> [p["max_depth"] for p in parameter_grid(XgbSearch(max_depth=(2, 3), n_estimators=(10,),
    ...     learning_rate=(0.1,), min_child_weight=(1.0,)))]
    [2, 3]
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sonorisk.atomic_file import atomic_path
from sonorisk.modelling.folds import Fold
from sonorisk.stats.auc import auc


@dataclass(frozen=True)
class XgbGrid:
    """The values each hyper-parameter takes in a search (as params.yaml writes them)."""

    max_depth: tuple[int, ...] = (2, 3)
    n_estimators: tuple[int, ...] = (100, 300)
    learning_rate: tuple[float, ...] = (0.03, 0.1)
    min_child_weight: tuple[int | float, ...] = (1.0, 3.0)


@dataclass(frozen=True)
class XgbSearch(XgbGrid):
    """A grid searched over ``folds`` cross-validation folds drawn with ``seed``."""

    folds: int = 5
    seed: int = 0


@dataclass(frozen=True)
class GridTrial:
    params: dict[str, Any]
    cv_auc: float
    oof: np.ndarray  # the grid point's out-of-fold predictions (probabilities or margins)


def parameter_grid(search: XgbGrid) -> list[dict[str, Any]]:
    """Every combination of the search's values, in a fixed order."""
    return [
        {"max_depth": depth, "n_estimators": trees, "learning_rate": rate, "min_child_weight": weight}
        for depth, trees, rate, weight in itertools.product(
            search.max_depth, search.n_estimators, search.learning_rate, search.min_child_weight
        )
    ]


def classifier(params: dict[str, Any], seed: int) -> Any:
    from xgboost import XGBClassifier

    return XGBClassifier(
        **params,
        subsample=0.8,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        tree_method="hist",
        n_jobs=1,
        random_state=seed,
        eval_metric="logloss",
    )


def grid_search(
    x: np.ndarray, y: np.ndarray, grid: list[dict[str, Any]], folds: list[Fold], seed: int, output: str
) -> list[GridTrial]:
    """Cross-validated AUC of every grid point over ``folds``.

    Args:
        output: "probability" (``predict_proba``) or "margin" (log-odds, like a logistic decision
            function); the AUC is computed on what is asked for, and kept in ``GridTrial.oof``.
    """
    if output not in ("probability", "margin"):
        raise ValueError(f"output must be 'probability' or 'margin', not {output!r}")
    trials = []
    for params in grid:
        oof = np.empty(y.size)
        for train, test in folds:
            model = classifier(params, seed).fit(x[train], y[train])
            oof[test] = (
                model.predict(x[test], output_margin=True) if output == "margin" else model.predict_proba(x[test])[:, 1]
            )
        trials.append(GridTrial(params, auc(y, oof), oof))
    return trials


def best_trial(trials: list[GridTrial]) -> GridTrial:
    """The highest CV AUC; ties go to the earlier grid point."""
    return max(trials, key=lambda t: t.cv_auc)


def save_booster(booster: Any, path: Path) -> Path:
    """A booster (or the booster of an ``XGBClassifier``) as UBJ, written atomically."""
    raw = booster.get_booster() if hasattr(booster, "get_booster") else booster
    with atomic_path(path, keep_suffix=True) as partial:
        raw.save_model(str(partial))
    return path


def load_booster(path: Path) -> Any:
    from xgboost import Booster

    booster = Booster()
    booster.load_model(str(path))
    return booster


def predict(booster: Any, x: np.ndarray, output_margin: bool = False) -> np.ndarray:
    from xgboost import DMatrix

    return np.asarray(booster.predict(DMatrix(x), output_margin=output_margin), dtype=np.float64)
