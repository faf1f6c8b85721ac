"""Curve points for figures and DVC plots: ROC and calibration, through scikit-learn.

Example:
    >>> import numpy as np
    >>> fpr, tpr = roc_points(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
"""

from __future__ import annotations

import numpy as np


def roc_points(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct score, from (0, 0) to (1, 1)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(np.asarray(y).astype(bool), np.asarray(p, dtype=np.float64), drop_intermediate=False)
    return fpr, tpr


def calibration_points(y: np.ndarray, p: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean predicted risk, observed rate and count in quantile bins of the predicted risk.

    Bins: ``bins``, but at most one per ten cases (at least two); empty bins are left out, as
    scikit-learn's ``calibration_curve`` does.

    Example:
        >>> import numpy as np
        >>> p = np.linspace(0.05, 0.95, 40); y = (np.arange(40) % 2).astype(bool)
        >>> predicted, observed, count = calibration_points(y, p, bins=4)
        >>> count.tolist(), observed.tolist()
        ([10, 10, 10, 10], [0.5, 0.5, 0.5, 0.5])
    """
    from sklearn.calibration import calibration_curve

    y = np.asarray(y).astype(bool)
    p = np.asarray(p, dtype=np.float64)
    bins = max(2, min(bins, p.size // 10 or 2))
    observed, predicted = calibration_curve(y, p, n_bins=bins, strategy="quantile")
    # The counts behind each point, with the bin edges calibration_curve uses for "quantile".
    edges = np.percentile(p, np.linspace(0, 100, bins + 1))
    counts = np.bincount(np.searchsorted(edges[1:-1], p), minlength=bins)
    return predicted, observed, counts[counts > 0]
