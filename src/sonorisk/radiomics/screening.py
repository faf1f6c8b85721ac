"""Feature screening and the Rad Score, fitted on training rows only.

Steps (each step's survivors are recorded):
1. robustness: ICC(2,1) between readers >= threshold (done before, on training cases);
2. missing values imputed with the training median; z-scoring with training mean and sd;
3. univariate Mann-Whitney U test against the outcome, p < threshold;
4. redundancy: in order of increasing p, drop a feature whose |Spearman rho| with one already kept
   exceeds the threshold;
5. LASSO logistic regression, penalty chosen by stratified k-fold CV (AUC); the **Rad Score** is its
   linear predictor, intercept + sum(coef x z).

Scoring clips each feature to the range seen in training first: a linear score extrapolates without
bound, and one out-of-range value (an unusual image) once turned a held-out patient's Rad Score
into 27.6 on a scale where training patients span -3 to 1, wrecking the out-of-fold scores fusion
learns from.

The fitted model is plain numbers (JSON), so scoring needs neither scikit-learn nor pickle.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu, spearmanr

from sonorisk.modelling.folds import stratified_folds

MIN_UNIVARIATE = 5  # keep at least this many by p-value, so LASSO always has candidates


@dataclass(frozen=True)
class ScreeningParams:
    mwu_p: float = 0.05
    spearman_max: float = 0.9
    lasso_folds: int = 10
    lasso_cs: int = 20
    seed: int = 0


@dataclass
class RadScoreModel:
    """Medians, means, sds and LASSO coefficients of the selected features."""

    features: list[str]
    medians: list[float]
    means: list[float]
    stds: list[float]
    coefficients: list[float]
    intercept: float
    lasso_c: float
    steps: dict[str, list[str]] = field(default_factory=dict)
    lows: list[float] = field(default_factory=list)  # training range of each feature; scoring clips to it
    highs: list[float] = field(default_factory=list)

    def score(self, matrix: np.ndarray) -> np.ndarray:
        """Rad Score of rows whose columns are ``self.features`` in order (NaN imputed, range clipped)."""
        x = np.where(np.isnan(matrix), np.asarray(self.medians), matrix)
        if self.lows:
            x = np.clip(x, np.asarray(self.lows), np.asarray(self.highs))
        z = (x - np.asarray(self.means)) / np.asarray(self.stds)
        return np.asarray(self.intercept + z @ np.asarray(self.coefficients), dtype=np.float64)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RadScoreModel:
        return cls(**json.loads(text))


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    medians = np.nanmedian(x, axis=0)
    medians = np.where(np.isnan(medians), 0.0, medians)
    filled = np.where(np.isnan(x), medians, x)
    means, stds = filled.mean(axis=0), filled.std(axis=0)
    return filled, medians, means, stds


def univariate_p_values(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.array([mannwhitneyu(z[y, j], z[~y, j], alternative="two-sided").pvalue for j in range(z.shape[1])])


def drop_redundant(z: np.ndarray, order: np.ndarray, max_abs_rho: float) -> list[int]:
    """Greedy: walk features in ``order``, keep one unless |rho| > max with a kept one."""
    rho = np.atleast_2d(spearmanr(z[:, order]).statistic) if order.size > 1 else np.ones((1, 1))
    kept: list[int] = []
    for i in range(order.size):
        if all(abs(rho[i, j]) <= max_abs_rho for j in kept):
            kept.append(i)
    return [int(order[i]) for i in kept]


def _lasso(
    z: np.ndarray, y: np.ndarray, params: ScreeningParams, groups: Sequence[str] | None
) -> tuple[np.ndarray, float, float]:
    from sklearn.linear_model import LogisticRegressionCV

    model = LogisticRegressionCV(
        # Penalties from strong (C = 1e-3: nothing selected) to mild (C ~ 3); weaker penalties
        # only over-fit a few hundred patients and make liblinear crawl towards separation.
        Cs=np.logspace(-3.0, 0.5, params.lasso_cs),
        cv=stratified_folds(y, params.lasso_folds, params.seed, groups),
        l1_ratios=(1.0,),
        # liblinear: exact L1 path, fast on a few hundred rows; it penalises the intercept as a
        # weight, so it is scaled up (x10) to make that penalty small.
        solver="liblinear",
        random_state=params.seed,  # liblinear shuffles; unseeded it drew from numpy's global state
        intercept_scaling=10.0,
        scoring="roc_auc",
        max_iter=2000,
        tol=1e-6,
        use_legacy_attributes=False,
    )
    model.fit(z, y)
    return model.coef_[0], float(model.intercept_[0]), float(np.ravel(model.C_)[0])


def fit_rad_score(
    matrix: np.ndarray,
    y: np.ndarray,
    names: list[str],
    params: ScreeningParams,
    groups: Sequence[str] | None = None,
) -> RadScoreModel:
    """Screen ``names`` (columns of ``matrix``, training rows) and fit the LASSO Rad Score; the
    LASSO's CV folds keep the persons of ``groups`` whole."""
    y = np.asarray(y).astype(bool)
    filled, medians, means, stds = _standardise(matrix)
    usable = np.flatnonzero(stds > 0)
    z = (filled[:, usable] - means[usable]) / stds[usable]
    p = univariate_p_values(z, y)
    order = np.argsort(p, kind="stable")
    significant = order[p[order] < params.mwu_p]
    if significant.size < MIN_UNIVARIATE:
        significant = order[:MIN_UNIVARIATE]
    kept = drop_redundant(z, significant, params.spearman_max)
    coef, intercept, c = _lasso(z[:, kept], y, params, groups)
    chosen = [k for k, w in zip(kept, coef, strict=True) if w != 0.0]
    weights = [float(w) for w in coef if w != 0.0]
    columns = [int(usable[k]) for k in chosen]
    return RadScoreModel(
        features=[names[j] for j in columns],
        medians=[float(medians[j]) for j in columns],
        means=[float(means[j]) for j in columns],
        stds=[float(stds[j]) for j in columns],
        coefficients=weights,
        intercept=intercept,
        lasso_c=c,
        lows=[float(filled[:, j].min()) for j in columns],
        highs=[float(filled[:, j].max()) for j in columns],
        steps={
            "candidates": list(names),
            "non_constant": [names[int(usable[k])] for k in range(usable.size)],
            "mann_whitney": [names[int(usable[k])] for k in significant],
            "spearman_non_redundant": [names[int(usable[k])] for k in kept],
            "lasso": [names[j] for j in columns],
        },
    )


def select_columns(table_columns: dict[str, Any], names: list[str]) -> np.ndarray:
    """Stack named feature columns (dict of arrays) into a float matrix, NaN for nulls."""
    return (
        np.column_stack([np.asarray(table_columns[n], dtype=np.float64) for n in names])
        if names
        else np.zeros((len(next(iter(table_columns.values()))), 0))
    )
