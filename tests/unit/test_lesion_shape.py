"""Lesion outlines: size in pixels honours the requested calliper diameter; irregularity shows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import binary_erosion

from sonorisk.synthetic.lesion_shape import (
    draw_lesion_shape,
    fit_lesion,
    max_feret_diameter,
    perturb_outline,
    rasterize_lesion,
    scale_for_feret,
)


def _brute_force_feret(mask: np.ndarray) -> float:
    """Largest centre-to-centre distance between boundary pixels, plus one pixel for their extent."""
    rows, cols = np.nonzero(mask & ~binary_erosion(mask))
    points = np.stack([rows, cols], axis=1).astype(float)
    d = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))
    return float(d.max()) + 1.0


@pytest.mark.parametrize("irregularity", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("feret_px", [30.0, 80.0])
def test_rasterized_lesion_has_the_requested_diameter(irregularity: float, feret_px: float) -> None:
    rng = np.random.default_rng(int(irregularity * 10 + feret_px))
    shape = draw_lesion_shape(irregularity, aspect=0.8, rng=rng)
    _, mask = fit_lesion(shape, feret_px, (100.0, 100.0), (200, 200))
    assert _brute_force_feret(mask) == pytest.approx(feret_px, rel=0.03)


def test_feret_of_a_square_is_its_diagonal() -> None:
    square = np.array([[0, 0], [3, 0], [3, 3], [0, 3], [1, 1]], dtype=float)
    assert max_feret_diameter(square) == pytest.approx(np.hypot(3, 3))


def _compactness(mask: np.ndarray) -> float:
    perimeter = (mask & ~binary_erosion(mask)).sum()
    return float(perimeter**2 / mask.sum())


def test_irregular_margins_are_less_compact() -> None:
    """Spiculated / angular outlines have more perimeter per area than smooth ones (on average)."""
    values = {}
    for u in (0.0, 1.0):
        values[u] = np.median(
            [
                _compactness(
                    rasterize_lesion(
                        (s := draw_lesion_shape(u, 0.8, np.random.default_rng(seed))),
                        scale_for_feret(s, 80.0),
                        (100.0, 100.0),
                        (200, 200),
                    )
                )
                for seed in range(12)
            ]
        )
    assert values[1.0] > 1.3 * values[0.0]


def test_second_reader_overlaps_but_differs() -> None:
    rng = np.random.default_rng(3)
    shape = draw_lesion_shape(0.3, 0.8, rng)
    scale = scale_for_feret(shape, 60.0)
    first = rasterize_lesion(shape, scale, (80.0, 80.0), (160, 160))
    second = rasterize_lesion(perturb_outline(shape, 0.06, rng), scale, (80.0, 80.0), (160, 160))
    dice = 2 * (first & second).sum() / (first.sum() + second.sum())
    assert 0.8 < dice < 0.995
