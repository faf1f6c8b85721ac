"""Feature robustness: ICC between two readers' masks, and the ICC across image perturbations
(``radiomics/perturbation.py``).

ICC(2,1) of Shrout & Fleiss (1979): two-way random effects, absolute agreement, single rater,

    ICC = (MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n)

with MSR, MSC, MSE the mean squares of rows (cases), columns (readers) and error. Koo & Li (2016):
>= 0.75 is good reliability, the usual threshold for keeping a radiomics feature.

Example:
    >>> import numpy as np
    >>> round(icc_2_1(np.array([[1.0, 1.1], [2.0, 2.1], [3.0, 2.9], [4.0, 4.2]])), 3)
    0.995
"""

from __future__ import annotations

import numpy as np


def icc_2_1(ratings: np.ndarray) -> float:
    """ICC(2,1) of an (n cases x k raters) matrix; NaN when undefined (no variance, < 2 cases)."""
    x = np.asarray(ratings, dtype=np.float64)
    n, k = x.shape
    if n < 2 or k < 2 or not np.isfinite(x).all():
        return float("nan")
    grand = x.mean()
    ss_rows = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_total = ((x - grand) ** 2).sum()
    ms_rows = ss_rows / (n - 1)
    ms_cols = ss_cols / (k - 1)
    ms_error = (ss_total - ss_rows - ss_cols) / ((n - 1) * (k - 1))
    denominator = ms_rows + (k - 1) * ms_error + k * (ms_cols - ms_error) / n
    return float((ms_rows - ms_error) / denominator) if denominator > 0 else float("nan")


def icc_1_1(ratings: np.ndarray) -> float:
    """ICC(1,1) of Shrout & Fleiss (1979), one-way random effects, single measurement:

        ICC = (MSR - MSW) / (MSR + (k - 1) MSW)

    for an (n cases x k measurements) matrix whose measurements are random draws (perturbations),
    not fixed raters. NaN when undefined (no variance, fewer than 2 cases or measurements).

    Example:
        >>> round(icc_1_1(np.array([[1.0, 1.2], [2.0, 2.1], [3.0, 2.8], [4.0, 4.1]])), 3)
        0.992
    """
    x = np.asarray(ratings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2 or not np.isfinite(x).all():
        return float("nan")
    n, k = x.shape
    ms_rows = k * ((x.mean(axis=1) - x.mean()) ** 2).sum() / (n - 1)
    ms_within = ((x - x.mean(axis=1, keepdims=True)) ** 2).sum() / (n * (k - 1))
    denominator = ms_rows + (k - 1) * ms_within
    return float((ms_rows - ms_within) / denominator) if denominator > 0 else float("nan")


def feature_iccs(reader1: np.ndarray, reader2: np.ndarray, names: list[str]) -> dict[str, float]:
    """ICC(2,1) per feature column over the cases both readers have (rows aligned)."""
    out = {}
    for j, name in enumerate(names):
        pair = np.stack([reader1[:, j], reader2[:, j]], axis=1)
        pair = pair[np.isfinite(pair).all(axis=1)]
        out[name] = icc_2_1(pair)
    return out
