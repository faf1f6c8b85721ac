"""ComBat: remove batch (scanner, centre) effects from features by location and scale, with
parametric empirical-Bayes shrinkage across features (Johnson, Li and Rabinovic 2007; Fortin et al.
2017/2018; Orlhac et al. 2022 for radiomics). No outcome is ever read. Optional covariates (clinical
fields such as tumour size) are protected: their linear effect on each feature, estimated on the
fitting rows, is kept, so a batch whose case mix differs (larger tumours at one centre) keeps that
difference instead of having it removed as if the scanner had made it.

``fit_combat`` estimates, from the rows it is given (a training fold, never a held-out row), the
standardisation (grand mean and pooled standard deviation per feature) and each batch's adjusted
location ``gamma*`` and scale ``delta*``; ``harmonise`` applies frozen estimates to any row of a
known batch. ``add_batch`` estimates a batch unseen in training from its own rows against the frozen
standardisation (the reference-batch idea of Zhang et al. 2018: the training distribution stays the
target), so nightly cohorts from a new scanner can be harmonised once enough of its rows arrive.
Estimates are plain numbers: ``to_dict``/``from_dict`` give JSON for the bundle.

The arithmetic follows the reference implementation neuroCombat 0.2.12 (pooled variance over all rows
with divisor n, per-batch variance with divisor n_i - 1, the inverse-gamma prior by moments, the
iteration to a relative change of 1e-4); ``tests/unit/test_combat.py`` checks it against that
implementation's output.

Example:
    >>> x = np.array([[1.0], [2.0], [3.0], [11.0], [12.0], [13.0]])
    >>> fitted = fit_combat(x, ["a", "a", "a", "b", "b", "b"], ["f"], empirical_bayes=False)
    >>> harmonise(x, ["a", "a", "a", "b", "b", "b"], fitted).ravel().round(2).tolist()
    [6.18, 7.0, 7.82, 6.18, 7.0, 7.82]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

CONVERGENCE = 1e-4
MAX_ITERATIONS = 1000


class CombatError(ValueError):
    """Rows that ComBat cannot use: a batch with fewer than two rows, an unknown batch, a feature
    constant within the fitting rows."""


@dataclass(frozen=True)
class CombatEstimates:
    features: list[str]
    grand_mean: np.ndarray  # (features,)
    pooled_sd: np.ndarray  # (features,)
    gamma: dict[str, np.ndarray] = field(default_factory=dict)  # batch -> adjusted location per feature
    delta: dict[str, np.ndarray] = field(default_factory=dict)  # batch -> adjusted scale (a variance)
    reference: str | None = None  # a batch left as it is, whose mean and spread are the target
    rows: dict[str, int] = field(default_factory=dict)  # batch -> rows its estimates came from
    covariates: list[str] = field(default_factory=list)  # protected covariates, in column order
    covariate_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (covariates,): centre, and fill-in
    beta: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (covariates, features)

    @property
    def batches(self) -> list[str]:
        return sorted(self.gamma)

    def standard_mean(self, covariates: np.ndarray | None) -> np.ndarray:
        """Each row's expected feature values before any batch effect: the grand mean plus the
        covariates' effect (a missing covariate value counts as the fitting rows' mean)."""
        if not self.covariates:
            return self.grand_mean
        if covariates is None:
            raise CombatError(f"these estimates protect covariates ({', '.join(self.covariates)}): give their values")
        centred = np.asarray(covariates, dtype=float) - self.covariate_mean
        return self.grand_mean + np.where(np.isfinite(centred), centred, 0.0) @ self.beta

    def to_dict(self) -> dict[str, Any]:
        protected = (
            {
                "covariates": list(self.covariates),
                "covariate_mean": self.covariate_mean.tolist(),
                "beta": self.beta.tolist(),
            }
            if self.covariates
            else {}
        )
        return {
            "method": "ComBat, parametric empirical Bayes, "
            + (f"protecting {', '.join(self.covariates)}" if self.covariates else "no covariates"),
            "features": list(self.features),
            "grand_mean": self.grand_mean.tolist(),
            "pooled_sd": self.pooled_sd.tolist(),
            "gamma": {b: v.tolist() for b, v in sorted(self.gamma.items())},
            "delta": {b: v.tolist() for b, v in sorted(self.delta.items())},
            "reference": self.reference,
            "rows": dict(sorted(self.rows.items())),
        } | protected

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CombatEstimates:
        return cls(
            features=list(raw["features"]),
            grand_mean=np.asarray(raw["grand_mean"], dtype=float),
            pooled_sd=np.asarray(raw["pooled_sd"], dtype=float),
            gamma={b: np.asarray(v, dtype=float) for b, v in raw["gamma"].items()},
            delta={b: np.asarray(v, dtype=float) for b, v in raw["delta"].items()},
            reference=raw.get("reference"),
            rows={b: int(n) for b, n in (raw.get("rows") or {}).items()},
            covariates=list(raw.get("covariates") or []),
            covariate_mean=np.asarray(raw.get("covariate_mean") or [], dtype=float),
            beta=np.asarray(raw.get("beta") or np.zeros((0, len(raw["features"]))), dtype=float),
        )


def fit_combat(
    x: np.ndarray,
    batch: Sequence[str],
    features: Sequence[str],
    reference: str | None = None,
    empirical_bayes: bool = True,
    covariates: np.ndarray | None = None,
    covariate_names: Sequence[str] = (),
) -> CombatEstimates:
    """ComBat estimates from these rows: ``x`` (rows, features) without missing values, ``batch``
    per row. With ``reference``, that batch is the target and stays unchanged. With ``covariates``
    (rows, k; complete), their linear effects are estimated jointly with the batch locations, as in
    neuroCombat's design matrix, and kept by ``harmonise``.

    Raises:
        CombatError: a batch with fewer than two rows, an unknown reference, a feature that does
            not vary within the standardising rows, or covariates that are incomplete or confounded
            with the batches.
    """
    x = np.asarray(x, dtype=float)
    labels = np.asarray([str(b) for b in batch])
    levels = sorted(set(labels.tolist()))
    sizes = {b: int((labels == b).sum()) for b in levels}
    small = [b for b, n in sizes.items() if n < 2]
    if small:
        raise CombatError(f"batch {small[0]!r} has {sizes[small[0]]} row(s): ComBat needs two or more per batch")
    if not np.isfinite(x).all():
        raise CombatError("ComBat needs complete features: drop or impute missing values first")
    if reference is not None and reference not in sizes:
        raise CombatError(f"reference batch {reference!r} is not among the batches ({', '.join(levels)})")
    if covariate_names:
        return _fit_with_covariates(
            x,
            labels,
            levels,
            sizes,
            features,
            reference,
            empirical_bayes,
            np.asarray(covariates, dtype=float),
            list(covariate_names),
        )
    means = {b: x[labels == b].mean(axis=0) for b in levels}
    if reference is None:
        grand = sum(sizes[b] * means[b] for b in levels) / len(x)
        residual = x - np.stack([means[b] for b in labels])
        variance = (residual**2).mean(axis=0)
    else:
        grand = means[reference]
        variance = ((x[labels == reference] - grand) ** 2).mean(axis=0)
    _check_varies(variance, features)
    sd = np.sqrt(variance)
    gamma, delta = _batch_effects((x - grand) / sd, labels, levels, reference, empirical_bayes)
    return CombatEstimates(list(features), grand, sd, gamma, delta, reference, sizes)


def _check_varies(variance: np.ndarray, features: Sequence[str]) -> None:
    flat = [features[int(i)] for i in np.flatnonzero(variance <= 0)]
    if flat:
        raise CombatError(f"feature {flat[0]!r} does not vary within the batches: ComBat cannot scale it")


def _batch_effects(
    z: np.ndarray, labels: np.ndarray, levels: list[str], reference: str | None, empirical_bayes: bool
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each batch's location (gamma) and scale (delta) on the standardised data; the reference's are
    0 and 1 by definition."""
    gamma: dict[str, np.ndarray] = {}
    delta: dict[str, np.ndarray] = {}
    for b in levels:
        if b == reference:
            gamma[b], delta[b] = np.zeros(z.shape[1]), np.ones(z.shape[1])
        else:
            gamma[b], delta[b] = _batch_estimates(z[labels == b], empirical_bayes)
    return gamma, delta


def _fit_with_covariates(
    x: np.ndarray,
    labels: np.ndarray,
    levels: list[str],
    sizes: dict[str, int],
    features: Sequence[str],
    reference: str | None,
    empirical_bayes: bool,
    covariates: np.ndarray,
    names: list[str],
) -> CombatEstimates:
    """``fit_combat`` with protected covariates: least squares of every feature on the batch
    indicators and the centred covariates; the grand mean is the batch-size-weighted intercept (the
    reference batch's with one), the pooled variance that of the residuals (the reference's rows)."""
    covariates = covariates.reshape(len(x), -1)
    if covariates.shape[1] != len(names):
        raise CombatError(f"{len(names)} covariate names for {covariates.shape[1]} covariate columns")
    if not np.isfinite(covariates).all():
        raise CombatError("ComBat needs complete covariates to fit: leave rows with a missing one out of the fit")
    centre = covariates.mean(axis=0)
    indicators = (labels[:, None] == np.asarray(levels)[None, :]).astype(float)
    design = np.hstack([indicators, covariates - centre])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise CombatError(
            f"covariates {', '.join(names)} are constant or confounded with the batches: ComBat cannot "
            "separate their effect from the batch effect"
        )
    coefficients = np.linalg.lstsq(design, x, rcond=None)[0]
    intercepts, beta = coefficients[: len(levels)], coefficients[len(levels) :]
    residual = x - design @ coefficients
    if reference is None:
        grand = np.asarray([sizes[b] for b in levels], dtype=float) @ intercepts / len(x)
        variance = (residual**2).mean(axis=0)
    else:
        grand = intercepts[levels.index(reference)]
        variance = (residual[labels == reference] ** 2).mean(axis=0)
    _check_varies(variance, features)
    estimates = CombatEstimates(
        list(features),
        grand,
        np.sqrt(variance),
        reference=reference,
        rows=sizes,
        covariates=names,
        covariate_mean=centre,
        beta=beta,
    )
    z = (x - estimates.standard_mean(covariates)) / estimates.pooled_sd
    gamma, delta = _batch_effects(z, labels, levels, reference, empirical_bayes)
    return replace(estimates, gamma=gamma, delta=delta)


def add_batch(
    estimates: CombatEstimates,
    x: np.ndarray,
    name: str,
    empirical_bayes: bool = True,
    covariates: np.ndarray | None = None,
) -> CombatEstimates:
    """``estimates`` with a new batch ``name`` estimated from its own rows ``x`` (and their protected
    ``covariates``, where the estimates have some) against the frozen standardisation (nothing
    already estimated changes)."""
    x = np.asarray(x, dtype=float)
    if len(x) < 2:
        raise CombatError(f"batch {name!r} has {len(x)} row(s): ComBat needs two or more per batch")
    if not np.isfinite(x).all():
        raise CombatError("ComBat needs complete features: drop or impute missing values first")
    g, d = _batch_estimates((x - estimates.standard_mean(covariates)) / estimates.pooled_sd, empirical_bayes)
    return replace(
        estimates,
        gamma=estimates.gamma | {name: g},
        delta=estimates.delta | {name: d},
        rows=estimates.rows | {name: len(x)},
    )


def harmonise(
    x: np.ndarray, batch: Sequence[str], estimates: CombatEstimates, covariates: np.ndarray | None = None
) -> np.ndarray:
    """Rows of known batches with the batch effects removed (missing values stay missing); where the
    estimates protect covariates, each row's ``covariates`` (rows, k) say what it is expected to be.

    Raises:
        CombatError: a row's batch has no estimates (``add_batch`` first, or leave the row as it is).
    """
    x = np.asarray(x, dtype=float)
    labels = [str(b) for b in batch]
    unknown = sorted(set(labels) - set(estimates.gamma))
    if unknown:
        raise CombatError(f"batch {unknown[0]!r} has no ComBat estimates (known: {', '.join(estimates.batches)})")
    gamma = np.stack([estimates.gamma[b] for b in labels])
    delta = np.stack([estimates.delta[b] for b in labels])
    expected = estimates.standard_mean(covariates)
    z = (x - expected) / estimates.pooled_sd
    out = (z - gamma) / np.sqrt(delta) * estimates.pooled_sd + expected
    if estimates.reference is not None:  # the reference batch is the target: left exactly as it was
        keep = np.array([b == estimates.reference for b in labels])
        out[keep] = x[keep]
    return out


def _batch_estimates(z: np.ndarray, empirical_bayes: bool) -> tuple[np.ndarray, np.ndarray]:
    """One batch's location and scale on the standardised scale; shrunk toward the batch's mean over
    features by empirical Bayes (normal prior on the location, inverse gamma on the scale)."""
    g_hat = z.mean(axis=0)
    d_hat = z.var(axis=0, ddof=1)
    if not empirical_bayes or z.shape[1] < 2:
        return g_hat, d_hat
    g_bar, t2 = g_hat.mean(), g_hat.var(ddof=1)
    m, s2 = d_hat.mean(), d_hat.var(ddof=1)
    a, b = (2 * s2 + m**2) / s2, (m * s2 + m**3) / s2
    n = z.shape[0]
    g_old, d_old = g_hat, d_hat
    for _ in range(MAX_ITERATIONS):
        g_new = (t2 * n * g_hat + d_old * g_bar) / (t2 * n + d_old)
        d_new = (0.5 * ((z - g_new) ** 2).sum(axis=0) + b) / (n / 2.0 + a - 1.0)
        # Relative change over the old value, signed as in sva's and neuroCombat's it.sol; like their
        # `while change > conv`, a 0/0 (a batch whose locations are all zero: the only batch) stops.
        with np.errstate(divide="ignore", invalid="ignore"):
            change = max(np.max(np.abs(g_new - g_old) / g_old), np.max(np.abs(d_new - d_old) / d_old))
        g_old, d_old = g_new, d_new
        if not change > CONVERGENCE:
            break
    return g_old, d_old
