"""A small, fast radiomics-stage fit for unit tests: perturbed copies of the training rows for the
robustness screen, and few folds and grid points (tests/unit/test_persons_whole.py,
tests/unit/test_harmonisation.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sonorisk.modelling.xgb import XgbSearch
from sonorisk.radiomics.model_fit import ModelParams, RobustnessInputs
from sonorisk.radiomics.screening import ScreeningParams


def perturbed_robustness(x: np.ndarray, training: np.ndarray, rng: np.random.Generator) -> RobustnessInputs:
    """No second reader; three slightly perturbed copies of every training row."""
    return RobustnessInputs(
        reader2=np.zeros((0, x.shape[1])),
        reader2_rows=np.zeros(0, int),
        perturbed=np.stack([x[training] + 0.01 * rng.normal(size=x[training].shape) for _ in range(3)], axis=1),
        perturbed_rows=training,
    )


def small_params(**overrides: Any) -> ModelParams:
    """4 out-of-fold models, a 3-fold LASSO over 4 penalties, one XGBoost grid point."""
    return ModelParams(
        oof_folds=4,
        screening=ScreeningParams(lasso_folds=3, lasso_cs=4),
        xgb=XgbSearch(max_depth=(2,), n_estimators=(20,), learning_rate=(0.1,), min_child_weight=(1.0,), folds=3),
        **overrides,
    )
