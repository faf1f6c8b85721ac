"""Per-feature normalising transforms for ComBat, which removes a batch's location and scale and so
assumes features a batch moves by shift and scale. Radiomics features are often skewed and moved by
a scanner multiplicatively (a texture energy, a low-grey-level emphasis); harmonised as they are, a
batch's long tail sets its scale and squeezes its bulk. Transformed first (and back after), the
batch effect is closer to the shift and scale ComBat removes.

``fit`` chooses per feature, from the rows given (a training fold, never a held-out row):

- ``box-cox`` for a feature positive on every row: ``(x**lam - 1) / lam`` (``log x`` at 0), ``lam`` in
  [-2, 2] maximising Box and Cox's profile likelihood (a golden-section search over every feature at
  once, not scipy's ``boxcox_normmax`` one feature at a time: docs/performance.md), rounded to 3
  decimals so that the estimate written to the bundle does not depend on the last bits of a CPU's
  arithmetic. A later value at or below zero is read as half the smallest fitted value
  (``floor``);
- for a feature with zero or negative values, ``asinh((x - centre) / scale)`` (centre the median,
  scale the median absolute deviation) where the fitted rows are likelier normal on that scale than
  as they are (Box and Cox's profile likelihood, the Jacobian included), else ``none``.

``inverse`` maps harmonised values back to the feature's own scale (models and drift read features
as extracted), clipping to the transform's range first.

Example:
    >>> x = np.exp(np.linspace(-1.0, 3.0, 50))[:, None]  # log-normal-like: Box-Cox finds the log
    >>> t = NormalisingTransform.fit(x, ["energy"])
    >>> t.kinds, t.lam.tolist()
    (['box-cox'], [0.0])
    >>> bool(np.allclose(t.inverse(t.forward(x)), x))
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import boxcox, inv_boxcox

KINDS = ("box-cox", "asinh", "none")
_LAMBDA_DECIMALS = 3
_LAMBDA_BOUNDS = (-2.0, 2.0)
_ASINH_LIMIT = 700.0  # sinh overflows a float64 just above 710
_GOLDEN_STEPS = 60  # the bracket of width 4 shrinks to 4 x 0.618**60, about 1e-12


@dataclass(frozen=True)
class NormalisingTransform:
    features: list[str]
    kinds: list[str]  # per feature, one of KINDS
    lam: np.ndarray  # Box-Cox lambda (0 where not box-cox)
    floor: np.ndarray  # Box-Cox: the smallest value read (half the smallest fitted)
    centre: np.ndarray  # asinh: median of the fitted rows
    scale: np.ndarray  # asinh: median absolute deviation of the fitted rows (1 where it is 0)

    @classmethod
    def fit(cls, x: np.ndarray, features: Sequence[str]) -> NormalisingTransform:
        """One transform per column of ``x`` (rows without missing values)."""
        x = np.asarray(x, dtype=float)
        n = x.shape[1]
        kinds, lam, floor = ["none"] * n, np.zeros(n), np.zeros(n)
        centre = np.median(x, axis=0) if len(x) else np.zeros(n)
        scale = np.median(np.abs(x - centre), axis=0) if len(x) else np.ones(n)
        scale[~(scale > 0)] = 1.0
        varies = (np.ptp(x, axis=0) > 0) if len(x) >= 3 else np.zeros(n, dtype=bool)
        positive = varies & (x > 0).all(axis=0)
        if positive.any():
            lam[positive] = np.round(_box_cox_lambdas(x[:, positive]), _LAMBDA_DECIMALS) + 0.0
            floor[positive] = x[:, positive].min(axis=0) / 2.0
        for j in range(n):
            if positive[j]:
                kinds[j] = "box-cox"
            elif varies[j] and _asinh_likelier(x[:, j], centre[j], scale[j]):
                kinds[j] = "asinh"
        return cls(list(features), kinds, lam, floor, centre, scale)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x`` (rows, features) on the transformed scale; missing values stay missing."""
        out = np.array(x, dtype=float, copy=True)
        for j, kind in enumerate(self.kinds):
            if kind == "box-cox":
                out[:, j] = boxcox(np.maximum(out[:, j], self.floor[j]), self.lam[j])
            elif kind == "asinh":
                out[:, j] = np.arcsinh((out[:, j] - self.centre[j]) / self.scale[j])
        return out

    def inverse(self, y: np.ndarray) -> np.ndarray:
        """Transformed values back on each feature's own scale."""
        out = np.array(y, dtype=float, copy=True)
        for j, kind in enumerate(self.kinds):
            if kind == "box-cox":
                out[:, j] = inv_boxcox(self._in_range(out[:, j], j), self.lam[j])
            elif kind == "asinh":
                out[:, j] = np.sinh(np.clip(out[:, j], -_ASINH_LIMIT, _ASINH_LIMIT)) * self.scale[j] + self.centre[j]
        return out

    def _in_range(self, y: np.ndarray, j: int) -> np.ndarray:
        """Box-Cox values clipped into what the inverse can map: not below the floor's image and,
        for a negative lambda, below the asymptote ``-1/lam`` (reached only as x grows without bound)."""
        low = boxcox(self.floor[j], self.lam[j])
        high = -1.0 / self.lam[j] - 1e-12 if self.lam[j] < 0 else np.inf
        return np.clip(y, low, high)

    def narrowed(self, features: Sequence[str]) -> NormalisingTransform:
        at = [self.features.index(f) for f in features]
        return NormalisingTransform(
            list(features),
            [self.kinds[i] for i in at],
            self.lam[at],
            self.floor[at],
            self.centre[at],
            self.scale[at],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "per feature: Box-Cox (lambda by maximum likelihood) if positive, else asinh of the "
            "median/MAD-scaled value where that is the likelier normal, else none",
            "kinds": list(self.kinds),
            "lambda": self.lam.tolist(),
            "floor": self.floor.tolist(),
            "centre": self.centre.tolist(),
            "scale": self.scale.tolist(),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any], features: Sequence[str]) -> NormalisingTransform:
        unknown = sorted(set(raw["kinds"]) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown transform {unknown[0]!r} (known: {', '.join(KINDS)})")
        return cls(
            list(features),
            list(raw["kinds"]),
            np.asarray(raw["lambda"], dtype=float),
            np.asarray(raw["floor"], dtype=float),
            np.asarray(raw["centre"], dtype=float),
            np.asarray(raw["scale"], dtype=float),
        )


def _asinh_likelier(x: np.ndarray, centre: float, scale: float) -> bool:
    """Whether ``x`` is likelier normal after ``asinh((x - centre) / scale)`` than as it is: the
    normal log likelihood at its maximum, ``-n/2 log var(y) + sum log |dy/dx|``, of each."""
    z = (x - centre) / scale
    y = np.arcsinh(z)
    transformed = -len(x) / 2 * np.log(y.var()) - np.sum(np.log(scale * np.sqrt(1.0 + z**2)))
    return bool(transformed > -len(x) / 2 * np.log(x.var()))


def _box_cox_lambdas(x: np.ndarray) -> np.ndarray:
    """Per column of positive ``x``, the lambda in [-2, 2] maximising Box and Cox's (1964) profile
    log likelihood ``(lam - 1) sum(log x) - n/2 log var(y_lam)``: a golden-section search, every
    column at once (the likelihood is unimodal in lambda over the bracket)."""
    logs = np.log(x)
    total = logs.sum(axis=0)

    def likelihood(lam: np.ndarray) -> np.ndarray:
        near_zero = np.abs(lam) < 1e-12
        safe = np.where(near_zero, 1.0, lam)
        y = np.where(near_zero, logs, np.expm1(safe * logs) / safe)
        with np.errstate(divide="ignore"):
            return (lam - 1.0) * total - len(x) / 2.0 * np.log(y.var(axis=0))

    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    low, high = np.full(x.shape[1], _LAMBDA_BOUNDS[0]), np.full(x.shape[1], _LAMBDA_BOUNDS[1])
    inner_low, inner_high = high - ratio * (high - low), low + ratio * (high - low)
    f_low, f_high = likelihood(inner_low), likelihood(inner_high)
    for _ in range(_GOLDEN_STEPS):
        left = f_low >= f_high  # the maximum lies in [low, inner_high]: drop the right end
        high = np.where(left, inner_high, high)
        low = np.where(left, low, inner_low)
        new = np.where(left, high - ratio * (high - low), low + ratio * (high - low))
        f_new = likelihood(new)
        inner_low, inner_high = np.where(left, new, inner_high), np.where(left, inner_low, new)
        f_low, f_high = np.where(left, f_new, f_high), np.where(left, f_low, f_new)
    return (low + high) / 2.0
