"""Lesion outlines from a radial function, as pure array functions.

A breast lesion seen in one ultrasound plane is close to star-shaped around its centre, so its
outline is written as a radius per angle, ``r(theta)``. Indolent lesions are smooth ovals or gently
macro-lobulated; aggressive ones are angular, micro-lobulated or spiculated. One number in [0, 1],
the *margin irregularity*, moves a lesion between those ends.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> shape = draw_lesion_shape(irregularity=0.1, aspect=0.7, rng=rng)
    >>> scale = scale_for_feret(shape, feret_px=40.0)
    >>> mask = rasterize_lesion(shape, scale, centre_rc=(50.0, 50.0), image_shape=(100, 100))
    >>> bool(mask[50, 50]), bool(mask[0, 0])
    (True, False)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull

N_ANGLES = 720


@dataclass(frozen=True)
class LesionShape:
    """A lesion outline in unit coordinates, before it is scaled to pixels.

    Attributes:
        radius: ``r(theta)`` at ``N_ANGLES`` equally spaced angles, mean about 1.
        aspect: height (depth) over width of the underlying ellipse; > 1 is "taller than wide".
        tilt: rotation of the ellipse's long axis from horizontal, radians.
    """

    radius: np.ndarray
    aspect: float
    tilt: float

    def outline_xy(self) -> np.ndarray:
        """The outline as (N, 2) points (x right, y down) in unit coordinates."""
        theta = np.linspace(0.0, 2.0 * np.pi, self.radius.size, endpoint=False)
        x = self.radius * np.cos(theta)
        y = self.radius * np.sin(theta) * self.aspect
        c, s = np.cos(self.tilt), np.sin(self.tilt)
        return np.stack([c * x - s * y, s * x + c * y], axis=1)


def _periodic_lerp(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Linear interpolation of a periodic sequence at fractional positions."""
    n = values.size
    lo = np.floor(positions).astype(int) % n
    hi = (lo + 1) % n
    frac = positions - np.floor(positions)
    return values[lo] * (1.0 - frac) + values[hi] * frac


def draw_lesion_shape(irregularity: float, aspect: float, rng: np.random.Generator) -> LesionShape:
    """Draw an outline whose margin grows angular and spiculated with ``irregularity``.

    Args:
        irregularity: 0 (smooth, circumscribed) to 1 (angular, spiculated, micro-lobulated).
        aspect: height over width of the base ellipse.
        rng: the generator every random choice is drawn from.

    Returns:
        The outline, unscaled.
    """
    u = float(np.clip(irregularity, 0.0, 1.0))
    theta = np.linspace(0.0, 2.0 * np.pi, N_ANGLES, endpoint=False)
    radius = np.ones(N_ANGLES)

    # Macro-lobulation (k = 2..5): the benign "gently lobulated" look, fading as u grows.
    for k in range(2, 6):
        amp = (0.09 * (1.0 - u) + 0.03) * rng.uniform(0.0, 1.0) / (k - 1) ** 0.5
        radius += amp * np.cos(k * theta + rng.uniform(0.0, 2.0 * np.pi))

    # Angular margin: blend towards a random polygon (straight edges, corners).
    n_vertices = int(rng.integers(5, 9))
    vertex_theta = np.sort(rng.uniform(0.0, 2.0 * np.pi, n_vertices))
    vertex_r = rng.uniform(0.8, 1.2, n_vertices)
    vx, vy = vertex_r * np.cos(vertex_theta), vertex_r * np.sin(vertex_theta)
    polygon_r = _polygon_radius(vx, vy, theta)
    angularity = 0.8 * u
    radius = (1.0 - angularity) * radius + angularity * polygon_r

    # Micro-lobulation: small high-frequency undulation of the margin.
    for k in rng.integers(10, 30, size=4):
        radius += 0.025 * u * rng.uniform(0.3, 1.0) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))

    # Spicules: narrow triangular spikes radiating from the margin.
    n_spicules = int(rng.poisson(2.0 + 10.0 * u * u))
    for _ in range(n_spicules):
        centre = rng.uniform(0.0, 2.0 * np.pi)
        width = rng.uniform(0.03, 0.08)
        height = 0.9 * u**1.5 * rng.uniform(0.4, 1.0)
        delta = np.angle(np.exp(1j * (theta - centre)))
        radius += height * np.clip(1.0 - np.abs(delta) / width, 0.0, None) ** 1.5

    radius = np.clip(radius, 0.35, None)
    return LesionShape(radius=radius, aspect=float(aspect), tilt=float(rng.normal(0.0, 0.25)))


def _polygon_radius(vx: np.ndarray, vy: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Distance from the origin to the closed polygon (vx, vy) along each ray ``theta``."""
    radius = np.full(theta.size, np.inf)
    dx, dy = np.cos(theta), np.sin(theta)
    for i in range(vx.size):
        ax, ay = vx[i], vy[i]
        bx, by = vx[(i + 1) % vx.size], vy[(i + 1) % vx.size]
        ex, ey = bx - ax, by - ay
        denom = dx * ey - dy * ex
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (ax * ey - ay * ex) / denom  # distance along the ray
            s = (ax * dy - ay * dx) / denom  # position along the edge
        hit = (np.abs(denom) > 1e-12) & (t > 0) & (s >= -1e-9) & (s <= 1 + 1e-9)
        radius = np.where(hit & (t < radius), t, radius)
    return np.where(np.isfinite(radius), radius, 1.0)


def max_feret_diameter(points_xy: np.ndarray) -> float:
    """Largest distance between any two points of an outline (the calliper diameter)."""
    hull = points_xy[ConvexHull(points_xy).vertices]
    diff = hull[:, None, :] - hull[None, :, :]
    return float(np.sqrt((diff**2).sum(axis=-1)).max())


def scale_for_feret(shape: LesionShape, feret_px: float) -> float:
    """Pixels per unit that give the outline a largest diameter of ``feret_px`` pixels."""
    return feret_px / max_feret_diameter(shape.outline_xy())


def rasterize_lesion(
    shape: LesionShape,
    scale: float,
    centre_rc: tuple[float, float],
    image_shape: tuple[int, int],
) -> np.ndarray:
    """Pixels inside the outline drawn at ``scale`` pixels per unit.

    Args:
        shape: the unit outline.
        scale: pixels per unit (see ``scale_for_feret``).
        centre_rc: the lesion centre as (row, column) in pixels.
        image_shape: (rows, columns) of the image.

    Returns:
        A boolean mask of ``image_shape``.
    """
    rows, cols = np.mgrid[0 : image_shape[0], 0 : image_shape[1]].astype(np.float64)
    # Undo translation, tilt and aspect to get back to the star-shaped unit frame.
    x0 = (cols + 0.5 - centre_rc[1]) / scale
    y0 = (rows + 0.5 - centre_rc[0]) / scale
    c, s = np.cos(shape.tilt), np.sin(shape.tilt)
    x = c * x0 + s * y0
    y = (-s * x0 + c * y0) / shape.aspect
    rho = np.hypot(x, y)
    position = (np.arctan2(y, x) % (2.0 * np.pi)) / (2.0 * np.pi) * shape.radius.size
    return rho <= _periodic_lerp(shape.radius, position)


def mask_feret_px(mask: np.ndarray) -> float:
    """Largest calliper diameter of a pixel mask (pixel centres' hull, plus one pixel of extent)."""
    rows, cols = np.nonzero(mask)
    if rows.size < 3:
        return float(rows.size)
    return max_feret_diameter(np.stack([cols, rows], axis=1).astype(np.float64)) + 1.0


def fit_lesion(
    shape: LesionShape, feret_px: float, centre_rc: tuple[float, float], image_shape: tuple[int, int]
) -> tuple[float, np.ndarray]:
    """Scale and rasterize an outline so the *drawn* mask measures ``feret_px`` across.

    Thin spicule tips narrower than a pixel vanish on rasterization (and reappear at other scales),
    so the analytic scale is corrected by the measured diameter of the mask a few times, keeping the
    closest fit.

    Returns:
        (scale in pixels per unit, the boolean mask).
    """
    scale = scale_for_feret(shape, feret_px)
    best: tuple[float, float, np.ndarray] | None = None
    for _ in range(5):
        mask = rasterize_lesion(shape, scale, centre_rc, image_shape)
        measured = mask_feret_px(mask)
        error = abs(measured - feret_px)
        if best is None or error < best[0]:
            best = (error, scale, mask)
        if measured <= 0 or error <= 0.01 * feret_px:
            break
        scale *= feret_px / measured
    assert best is not None
    return best[1], best[2]


def perturb_outline(shape: LesionShape, strength: float, rng: np.random.Generator) -> LesionShape:
    """A second reader's outline: the same lesion traced with a smooth radial disagreement.

    Args:
        shape: the first reader's outline.
        strength: relative standard deviation of the radial disagreement (0.05 = 5 %).
        rng: generator for the disagreement.
    """
    theta = np.linspace(0.0, 2.0 * np.pi, shape.radius.size, endpoint=False)
    factor = np.full(theta.size, 1.0 + rng.normal(0.0, strength * 0.5))  # global over/under-tracing
    for k in range(1, 5):
        factor += strength * rng.normal(0.0, 0.5) * np.cos(k * theta + rng.uniform(0, 6.3))
    return LesionShape(radius=shape.radius * factor, aspect=shape.aspect, tilt=shape.tilt)
