"""Area under the ROC curve, through scikit-learn, NaN (not an error) when a class is absent.

Example:
    >>> import numpy as np
    >>> auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    >>> import math; math.isnan(auc(np.array([1, 1]), np.array([0.2, 0.3])))
    True
"""

from __future__ import annotations

import numpy as np


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """AUC with ties counted one half; NaN when either class is absent (a tiny fold or split)."""
    y = np.asarray(labels).astype(bool)
    if y.all() or not y.any():
        return float("nan")
    # Imported here, not at module import: scoring workers import this module's callers cheaply.
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, np.asarray(scores, dtype=np.float64)))
