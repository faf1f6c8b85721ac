"""Feature robustness without a second reader: image perturbation (Zwanenburg et al., "Assessing
robustness of radiomic features by image perturbation", Sci Rep 2019).

Each training case is re-extracted under a few seeded perturbations that mimic what varies between
acquisitions and outlines: the outline itself (a small morphological change: dilation or erosion by
``contour_px``), its placement (a translation of the mask by up to ``translation_px`` pixels), the
probe angle (a rotation of image and mask by up to ``rotation_deg`` about the lesion's centroid) and
noise (Gaussian, ``noise_fraction`` of the grey-level spread inside the lesion). A feature whose
values across perturbations agree poorly, relative to its spread between cases (ICC(1,1), one-way
random effects: the perturbations are random, not fixed raters), is dropped before screening.

Every draw comes from a generator seeded by (settings seed, perturbation index, case key), so a
case's perturbations do not depend on which other cases are extracted or in which order.

Example:
    >>> import numpy as np
    >>> image = np.full((40, 40), 100, np.uint8); mask = np.zeros((40, 40), bool); mask[10:30, 12:28] = True
    >>> settings = PerturbationSettings(count=2)
    >>> a = perturb(image, mask, settings, "cohort|p1", 0)
    >>> b = perturb(image, mask, settings, "cohort|p1", 0)
    >>> bool((a[0] == b[0]).all() and (a[1] == b[1]).all()), bool(a[1].any())
    (True, True)
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sonorisk.radiomics.robustness import icc_1_1


@dataclass(frozen=True)
class PerturbationSettings:
    count: int = 4  # perturbations per training case
    contour_px: int = 1
    translation_px: int = 2
    rotation_deg: float = 10.0
    noise_fraction: float = 0.05
    icc_threshold: float = 0.75
    seed: int = 31

    @classmethod
    def load(cls, path: Path) -> PerturbationSettings:
        import yaml

        raw = yaml.safe_load(path.read_text()) or {}
        unknown = sorted(set(raw) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"{path}: unknown perturbation setting(s) {', '.join(unknown)}")
        return cls(**raw)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rng(settings: PerturbationSettings, key: str, index: int) -> np.random.Generator:
    case = int(hashlib.sha256(key.encode()).hexdigest()[:15], 16)
    return np.random.default_rng([settings.seed, index, case])


def _rotate(image: np.ndarray, mask: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy.ndimage import affine_transform

    centre = np.argwhere(mask).mean(axis=0)
    angle = np.deg2rad(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    offset = centre - rotation @ centre
    turned = affine_transform(image.astype(np.float64), rotation, offset=offset, order=1, mode="nearest")
    turned_mask = affine_transform(mask.astype(np.uint8), rotation, offset=offset, order=0, mode="constant") > 0
    return turned, turned_mask


def perturb(
    image: np.ndarray, mask: np.ndarray, settings: PerturbationSettings, key: str, index: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """One perturbation of a case: (image of the same dtype, mask, what was done).

    A perturbation that would empty the mask (erosion of a tiny lesion) keeps the outline as it was.
    """
    from scipy.ndimage import binary_dilation, binary_erosion, shift

    rng = _rng(settings, key, index)
    degrees = float(rng.uniform(-settings.rotation_deg, settings.rotation_deg))
    dy, dx = (int(v) for v in rng.integers(-settings.translation_px, settings.translation_px + 1, size=2))
    grow = bool(rng.random() < 0.5)
    noise = rng.standard_normal(image.shape)

    work, outline = _rotate(image, mask, degrees)
    if not outline.any():
        work, outline = image.astype(np.float64), mask.copy()
    moved = shift(outline.astype(np.uint8), (dy, dx), order=0, mode="constant") > 0
    outline = moved if moved.any() else outline
    if settings.contour_px > 0:
        changed = (binary_dilation if grow else binary_erosion)(outline, iterations=settings.contour_px)
        outline = changed if changed.any() else outline
    inside = work[outline]
    spread = float(inside.std()) if inside.size > 1 else 0.0
    work = work + noise * settings.noise_fraction * spread
    top = float(np.iinfo(image.dtype).max) if np.issubdtype(image.dtype, np.integer) else float(work.max())
    result = np.clip(np.rint(work), 0, top).astype(image.dtype)
    contour = f"{'dilate' if grow else 'erode'} {settings.contour_px} px"
    done = f"rotate {degrees:+.1f} deg, shift mask ({dy:+d},{dx:+d}) px, {contour}"
    return result, outline, done


def perturbation_iccs(values: np.ndarray) -> np.ndarray:
    """ICC(1,1) per feature of a (cases, perturbations, features) array; NaN where undefined.

    Cases with a missing value (a failed extraction) are left out of that feature's ICC.
    """
    out = np.full(values.shape[2], np.nan)
    for j in range(values.shape[2]):
        ratings = values[:, :, j]
        out[j] = icc_1_1(ratings[np.isfinite(ratings).all(axis=1)])
    return out
