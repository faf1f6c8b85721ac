"""ComBat: remove batch (scanner, centre) effects from features by location and scale, with
parametric empirical-Bayes shrinkage across features (Johnson, Li and Rabinovic 2007; Fortin et al.
2017/2018; Orlhac et al. 2022 for radiomics), without covariates: no outcome is ever read.

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
from dataclasses import dataclass, field
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

    @property
    def batches(self) -> list[str]:
        return sorted(self.gamma)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "ComBat, parametric empirical Bayes, no covariates",
            "features": list(self.features),
            "grand_mean": self.grand_mean.tolist(),
            "pooled_sd": self.pooled_sd.tolist(),
            "gamma": {b: v.tolist() for b, v in sorted(self.gamma.items())},
            "delta": {b: v.tolist() for b, v in sorted(self.delta.items())},
            "reference": self.reference,
            "rows": dict(sorted(self.rows.items())),
        }

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
        )


def fit_combat(
    x: np.ndarray,
    batch: Sequence[str],
    features: Sequence[str],
    reference: str | None = None,
    empirical_bayes: bool = True,
) -> CombatEstimates:
    """ComBat estimates from these rows: ``x`` (rows, features) without missing values, ``batch``
    per row. With ``reference``, that batch is the target and stays unchanged.

    Raises:
        CombatError: a batch with fewer than two rows, an unknown reference, or a feature that does
            not vary within the standardising rows.
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
    means = {b: x[labels == b].mean(axis=0) for b in levels}
    if reference is None:
        grand = sum(sizes[b] * means[b] for b in levels) / len(x)
        residual = x - np.stack([means[b] for b in labels])
        variance = (residual**2).mean(axis=0)
    else:
        grand = means[reference]
        variance = ((x[labels == reference] - grand) ** 2).mean(axis=0)
    flat = [features[int(i)] for i in np.flatnonzero(variance <= 0)]
    if flat:
        raise CombatError(f"feature {flat[0]!r} does not vary within the batches: ComBat cannot scale it")
    sd = np.sqrt(variance)
    z = (x - grand) / sd
    gamma: dict[str, np.ndarray] = {}
    delta: dict[str, np.ndarray] = {}
    for b in levels:
        if b == reference:
            gamma[b], delta[b] = np.zeros(x.shape[1]), np.ones(x.shape[1])
        else:
            gamma[b], delta[b] = _batch_estimates(z[labels == b], empirical_bayes)
    return CombatEstimates(list(features), grand, sd, gamma, delta, reference, sizes)


def add_batch(estimates: CombatEstimates, x: np.ndarray, name: str, empirical_bayes: bool = True) -> CombatEstimates:
    """``estimates`` with a new batch ``name`` estimated from its own rows ``x`` against the frozen
    standardisation (nothing already estimated changes)."""
    x = np.asarray(x, dtype=float)
    if len(x) < 2:
        raise CombatError(f"batch {name!r} has {len(x)} row(s): ComBat needs two or more per batch")
    if not np.isfinite(x).all():
        raise CombatError("ComBat needs complete features: drop or impute missing values first")
    g, d = _batch_estimates((x - estimates.grand_mean) / estimates.pooled_sd, empirical_bayes)
    return CombatEstimates(
        estimates.features,
        estimates.grand_mean,
        estimates.pooled_sd,
        estimates.gamma | {name: g},
        estimates.delta | {name: d},
        estimates.reference,
        estimates.rows | {name: len(x)},
    )


def harmonise(x: np.ndarray, batch: Sequence[str], estimates: CombatEstimates) -> np.ndarray:
    """Rows of known batches with the batch effects removed (missing values stay missing).

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
    z = (x - estimates.grand_mean) / estimates.pooled_sd
    out = (z - gamma) / np.sqrt(delta) * estimates.pooled_sd + estimates.grand_mean
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
