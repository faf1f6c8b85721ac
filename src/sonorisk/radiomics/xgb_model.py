"""Radiomics + clinical XGBoost (the study's 0.756 model): hyper-parameters by CV on training.

The booster is saved as xgboost UBJ (never pickle) with a JSON sidecar naming its input columns.
One thread and a fixed seed make the fit deterministic on a CPU.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sonorisk.evaluation.auc import auc


@dataclass(frozen=True)
class XgbSearch:
    max_depth: tuple[int, ...] = (2, 3)
    n_estimators: tuple[int, ...] = (100, 300)
    learning_rate: tuple[float, ...] = (0.03, 0.1)
    min_child_weight: tuple[float, ...] = (1.0, 3.0)
    folds: int = 5
    seed: int = 0


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


def tune(x: np.ndarray, y: np.ndarray, search: XgbSearch) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Grid search by stratified k-fold CV AUC; returns the best parameters and every trial."""
    from sklearn.model_selection import StratifiedKFold

    n_folds = max(2, min(search.folds, int(y.sum()), int((~y).sum())))
    folds = list(StratifiedKFold(n_folds, shuffle=True, random_state=search.seed).split(x, y))
    trials = []
    for depth, trees, rate, weight in itertools.product(
        search.max_depth, search.n_estimators, search.learning_rate, search.min_child_weight
    ):
        params = {"max_depth": depth, "n_estimators": trees, "learning_rate": rate, "min_child_weight": weight}
        oof = np.zeros(y.size)
        for train, test in folds:
            oof[test] = classifier(params, search.seed).fit(x[train], y[train]).predict_proba(x[test])[:, 1]
        trials.append(params | {"cv_auc": auc(y, oof)})
    best = max(trials, key=lambda t: t["cv_auc"])
    return {k: v for k, v in best.items() if k != "cv_auc"}, trials


def fit(x: np.ndarray, y: np.ndarray, params: dict[str, Any], seed: int) -> Any:
    return classifier(params, seed).fit(x, y)


def save(model: Any, path: Path, columns: list[str], extra: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    model.get_booster().save_model(str(path))
    sidecar = {"columns": columns, "params": model.get_params(deep=False)} | extra
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2, sort_keys=True, default=str) + "\n")


def load_booster(path: Path) -> Any:
    from xgboost import Booster

    booster = Booster()
    booster.load_model(str(path))
    return booster


def predict(booster: Any, x: np.ndarray) -> np.ndarray:
    from xgboost import DMatrix

    return np.asarray(booster.predict(DMatrix(x)), dtype=np.float64)
