"""Per-feature normalising transforms for ComBat, which removes a batch's location and scale and so
assumes features a batch moves by shift and scale. Radiomics features are often skewed and moved by
a scanner multiplicatively (a texture energy, a low-grey-level emphasis); harmonised as they are, a
batch's long tail sets its scale and squeezes its bulk. Transformed first (and back after), the
batch effect is closer to the shift and scale ComBat removes.

``fit`` chooses per feature, from the rows given (a training fold, never a held-out row):

- ``box-cox`` for a feature positive on every row: ``(x**lam - 1) / lam`` (``log x`` at 0), ``lam`` by
  maximum likelihood (``scipy.stats.boxcox_normmax``), rounded to 3 decimals so that the estimate
  written to the bundle does not depend on the last bits of a CPU's arithmetic. A later value at or
  below zero is read as half the smallest fitted value (``floor``);
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
from scipy import stats
from scipy.special import boxcox, inv_boxcox

KINDS = ("box-cox", "asinh", "none")
_LAMBDA_DECIMALS = 3
_LAMBDA_BOUNDS = (-2.0, 2.0)
_ASINH_LIMIT = 700.0  # sinh overflows a float64 just above 710


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
        for j in range(n):
            column = x[:, j]
            if len(column) < 3 or np.ptp(column) == 0:
                continue
            if (column > 0).all():
                kinds[j] = "box-cox"
                estimate = stats.boxcox_normmax(column, method="mle")
                lam[j] = round(float(np.clip(estimate, *_LAMBDA_BOUNDS)), _LAMBDA_DECIMALS) + 0.0
                floor[j] = column.min() / 2.0
            elif _asinh_likelier(column, centre[j], scale[j]):
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
