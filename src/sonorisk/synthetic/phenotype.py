"""How latent aggressiveness shows in the image, and nowhere else.

Aggressiveness ``z ~ N(0, 1)`` sets a *margin irregularity* ``u = sigmoid(1.7 z + e)``,
``e ~ N(0, 0.35)``, and ``u`` drives every visible trait with its own independent noise, so no single
trait reveals ``z`` exactly:

| trait | indolent (u ~ 0) | aggressive (u ~ 1) |
| --- | --- | --- |
| outline | oval, gently lobulated | angular, micro-lobulated, spiculated |
| orientation | wider than tall | taller than wide |
| margin | sharp | indistinct, echogenic halo |
| echo level | hypoechoic | markedly hypoechoic |
| internal texture | homogeneous | heterogeneous |
| posterior | enhancement | shadowing |
| calcifications | rare | microcalcifications |

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> calm, wild = lesion_phenotype(-2.0, rng), lesion_phenotype(2.0, rng)
    >>> calm.appearance.attenuation_db_per_mm < 0 < wild.appearance.attenuation_db_per_mm
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sonorisk.synthetic.tissue import LesionAppearance


@dataclass(frozen=True)
class LesionPhenotype:
    """The visible traits of one lesion."""

    irregularity: float
    aspect: float
    appearance: LesionAppearance


def lesion_phenotype(latent: float, rng: np.random.Generator) -> LesionPhenotype:
    """Draw the visible traits of a lesion whose latent aggressiveness is ``latent``."""
    u = float(1.0 / (1.0 + np.exp(-(1.7 * latent + rng.normal(0.0, 0.35)))))
    appearance = LesionAppearance(
        echo_level=float(0.05 * np.exp(-0.8 * u + rng.normal(0.0, 0.15))),
        heterogeneity=float(np.clip(0.15 + 0.65 * u + rng.normal(0.0, 0.07), 0.05, 1.2)),
        texture_scale_mm=float(rng.uniform(0.6, 1.2)),
        attenuation_db_per_mm=float(1.3 * (u - 0.35) + rng.normal(0.0, 0.15)),
        halo=float(max(0.0, 1.3 * (u - 0.45) + rng.normal(0.0, 0.12))),
        margin_blur_mm=float(0.06 + 0.35 * u * rng.uniform(0.6, 1.0)),
        calcifications=int(rng.poisson(4.0 * u**3)),
    )
    aspect = float(np.clip(0.6 + 0.55 * u + rng.normal(0.0, 0.08), 0.4, 1.5))
    return LesionPhenotype(irregularity=u, aspect=aspect, appearance=appearance)
