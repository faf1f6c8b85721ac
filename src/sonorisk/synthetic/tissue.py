"""Echogenicity scenes of the breast: tissue layers and a lesion inside them.

Values are mean backscattered intensity relative to fibroglandular parenchyma (= 1). Typical
relative levels (dB = 10 log10): skin and fasciae bright (+4 dB), subcutaneous and retromammary fat
hypoechoic (-8 dB), pectoral muscle mid-grey with striations (-5 dB), carcinoma markedly hypoechoic
(-11 to -16 dB). Rows are depth (row 0 touches the probe), columns are lateral position.

Example:
    >>> import numpy as np
    >>> scene = breast_background((120, 160), 0.1, np.random.default_rng(0))
    >>> scene.echogenicity.shape, bool(scene.fat_bottom_px.min() > 0)
    ((120, 160), True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter, zoom

SKIN = 2.5
FAT = 0.16
PARENCHYMA = 1.0
MUSCLE = 0.32
FASCIA = 2.2
LIGAMENT = 1.8


@dataclass(frozen=True)
class BreastScene:
    """A background echogenicity map and where its layers lie (rows per column)."""

    echogenicity: np.ndarray
    fat_bottom_px: np.ndarray
    muscle_top_px: np.ndarray


@dataclass(frozen=True)
class LesionAppearance:
    """How a lesion shows on B-mode, independent of its outline.

    Attributes:
        echo_level: mean intensity of the lesion relative to parenchyma (< 1: hypoechoic).
        heterogeneity: standard deviation of the log-intensity texture inside the lesion.
        texture_scale_mm: size of the internal texture blobs.
        attenuation_db_per_mm: extra attenuation inside the lesion; > 0 casts a posterior
            shadow, < 0 gives posterior enhancement.
        halo: brightness of an echogenic rim around the lesion (0 = none).
        margin_blur_mm: width of the transition at the margin (indistinct margins blur).
        calcifications: number of bright microcalcifications inside the lesion.
    """

    echo_level: float
    heterogeneity: float
    texture_scale_mm: float
    attenuation_db_per_mm: float
    halo: float
    margin_blur_mm: float
    calcifications: int


def smooth_noise(shape: tuple[int, int], scale_px: float | tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian random field with correlation length ``scale_px``.

    ``scale_px`` may be (rows, columns) for an anisotropic field. Smooth fields are drawn on a grid
    coarser by up to a third of the smaller scale and interpolated back: the same statistics at a
    fraction of the filtering cost.
    """
    scales = (scale_px, scale_px) if isinstance(scale_px, (int, float)) else scale_px
    step = max(1, int(min(scales) // 3))
    coarse_shape = (-(-shape[0] // step) + 1, -(-shape[1] // step) + 1)
    sigma = (max(scales[0] / step, 0.5), max(scales[1] / step, 0.5))
    coarse = gaussian_filter(rng.standard_normal(coarse_shape, dtype=np.float32), sigma)
    field = zoom(coarse, step, order=1)[: shape[0], : shape[1]] if step > 1 else coarse[: shape[0], : shape[1]]
    field = field - field.mean()
    std = float(field.std())
    return field / std if std > 0 else field


def _wavy_boundary(n_cols: int, mean_px: float, amp_px: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth, gently undulating interface depth per column."""
    x = np.arange(n_cols) / n_cols
    depth = np.full(n_cols, mean_px)
    for k in (1, 2, 3, 5):
        depth += amp_px / k * rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * k * x + rng.uniform(0, 6.3))
    return depth


def breast_background(shape: tuple[int, int], spacing_mm: float, rng: np.random.Generator) -> BreastScene:
    """Skin, subcutaneous fat with Cooper's ligaments, parenchyma, retromammary fat, muscle.

    Args:
        shape: (rows, columns) of the image.
        spacing_mm: pixel spacing.
        rng: the generator for layer geometry and textures.
    """
    n_rows, n_cols = shape
    px = 1.0 / spacing_mm  # pixels per mm
    rows = np.arange(n_rows, dtype=np.float32)[:, None]

    skin_bottom = _wavy_boundary(n_cols, rng.uniform(1.5, 2.2) * px, 0.2 * px, rng)
    fat_bottom = skin_bottom + _wavy_boundary(n_cols, rng.uniform(3.0, 7.0) * px, 1.5 * px, rng)
    muscle_top = _wavy_boundary(n_cols, n_rows * rng.uniform(0.78, 0.95), 1.5 * px, rng)
    retro_fat_top = muscle_top - rng.uniform(1.0, 2.5) * px

    echo = np.full(shape, PARENCHYMA, dtype=np.float32)
    # Parenchyma: heterogeneous, banded along the skin (ducts and stroma run parallel to it),
    # with darker fat lobules interspersed.
    echo *= np.exp(0.45 * smooth_noise(shape, (0.5 * px, 3.0 * px), rng))
    lobules = smooth_noise(shape, 2.0 * px, rng) > 1.3
    echo = np.where(lobules, FAT * 1.5, echo)

    below_skin = rows >= skin_bottom[None, :]
    in_fat = below_skin & (rows < fat_bottom[None, :])
    echo = np.where(~below_skin, SKIN, echo)
    echo = np.where(in_fat, FAT * np.exp(0.25 * smooth_noise(shape, 1.0 * px, rng)), echo)
    _draw_ligaments(echo, skin_bottom, fat_bottom, px, rng)

    in_retro_fat = (rows >= retro_fat_top[None, :]) & (rows < muscle_top[None, :])
    echo = np.where(in_retro_fat, FAT, echo)
    in_muscle = rows >= muscle_top[None, :]
    angle = rng.uniform(-0.15, 0.15)
    cols = np.arange(n_cols, dtype=np.float32)[None, :]
    striation = 1.0 + 0.55 * np.sin(2 * np.pi * (rows + angle * cols) / (rng.uniform(0.9, 1.6) * px))
    echo = np.where(in_muscle, MUSCLE * striation, echo)
    fascia = np.abs(rows - muscle_top[None, :]) < 0.3 * px
    echo = np.where(fascia, FASCIA, echo)

    return BreastScene(
        echogenicity=gaussian_filter(echo, 0.6).astype(np.float32),
        fat_bottom_px=fat_bottom,
        muscle_top_px=muscle_top,
    )


def _draw_ligaments(echo: np.ndarray, top: np.ndarray, bottom: np.ndarray, px: float, rng: np.random.Generator) -> None:
    """Cooper's ligaments: thin bright arcs crossing the subcutaneous fat, drawn in place."""
    n_rows, n_cols = echo.shape
    t = np.linspace(0.0, 1.0, 200)
    for _ in range(int(rng.integers(2, 6))):
        x0 = rng.uniform(0, n_cols - 1)
        dx = rng.uniform(-8, 8) * px
        bow = rng.uniform(-2, 2) * px
        x = np.clip(x0 + dx * t + bow * np.sin(np.pi * t), 0, n_cols - 1)
        col = x.astype(int)
        y = bottom[col] + (top[col] - bottom[col]) * t
        echo[np.clip(y.astype(int), 0, n_rows - 1), col] = LIGAMENT


def insert_lesion(
    background: np.ndarray,
    mask: np.ndarray,
    appearance: LesionAppearance,
    spacing_mm: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Put a lesion with the given appearance into a background echogenicity map.

    Args:
        background: echogenicity map of the surrounding tissue.
        mask: boolean lesion outline, same shape.
        appearance: echo level, texture, margin, posterior features, calcifications.
        spacing_mm: pixel spacing.
        rng: the generator for texture and calcification positions.

    Returns:
        A new echogenicity map.
    """
    px = 1.0 / spacing_mm
    shape = background.shape
    inside = gaussian_filter(mask.astype(np.float32), max(appearance.margin_blur_mm * px, 0.3))

    texture = np.exp(
        appearance.heterogeneity * smooth_noise(shape, appearance.texture_scale_mm * px, rng)
        - 0.5 * appearance.heterogeneity**2
    )
    lesion_echo = appearance.echo_level * texture
    echo = background * (1.0 - inside) + lesion_echo * inside

    if appearance.halo > 0:
        ring = gaussian_filter(mask.astype(np.float32), 1.0 * px) * (1.0 - inside)
        echo = echo * (1.0 + appearance.halo * 2.5 * ring)

    # Posterior acoustic features: the extra attenuation accumulates along each beam (column).
    extra_db = np.cumsum(inside * appearance.attenuation_db_per_mm * spacing_mm, axis=0)
    extra_db = gaussian_filter(extra_db, (0.5, 1.0 * px))
    echo = echo * 10.0 ** (-extra_db / 10.0)

    if appearance.calcifications > 0:
        rr, cc = np.nonzero(mask)
        if rr.size:
            pick = rng.integers(0, rr.size, appearance.calcifications)
            spots = np.zeros(shape, dtype=np.float32)
            spots[rr[pick], cc[pick]] = 1.0
            echo = echo + 40.0 * gaussian_filter(spots, 0.07 * px) * (0.07 * px) ** 2 * 6.0
    return echo.astype(np.float32)
