"""Out-of-fold scores from k fold models, put on the final model's scale before they are pooled.

Each fold model (a LASSO with its own penalty and features, a network stopped at its own epoch) has
its own offset and spread: on the demo cohort the three DL fold models' mean held-out scores were
0.63, 0.55 and 0.33. Pooled as they are, the offsets swamp the ranking within each fold (pooled OOF
AUC 0.62 against 0.64-0.67 within folds), and fusion, which learns from the pooled scores, discounts
the score. So every fold model also scores a common set of **reference rows** (the internal
validation patients; their labels are not used), and its scores are mapped linearly so that on the
reference rows they have the mean and standard deviation of the final model's scores there.
Probabilities are aligned on the logit scale.

Example:
    >>> import numpy as np
    >>> final_ref = np.array([-1.0, 0.0, 1.0])
    >>> fold_ref = np.array([1.0, 2.0, 3.0])  # the fold model reads 2 higher
    >>> align_to_reference(np.array([2.5]), fold_ref, final_ref, "linear").round(6).tolist()
    [0.5]
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-6


def clipped_logit(p: np.ndarray) -> np.ndarray:
    """logit(p) with p clipped to [1e-6, 1 - 1e-6]; NaN stays NaN."""
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(q / (1 - q))


def align_to_reference(
    scores: np.ndarray, fold_reference: np.ndarray, final_reference: np.ndarray, scale: str
) -> np.ndarray:
    """Map a fold model's ``scores`` onto the final model's scale.

    Args:
        scores: the fold model's scores of its held-out rows.
        fold_reference: the fold model's scores of the reference rows.
        final_reference: the final model's scores of the same reference rows.
        scale: "linear" (scores are logits or other unbounded values) or "probability" (aligned as
            logits, returned as probabilities).

    A reference with no spread (fewer than two rows, or a constant score) leaves the scores as they are.
    """
    if scale not in ("linear", "probability"):
        raise ValueError(f"scale must be 'linear' or 'probability', not {scale!r}")
    to_line = clipped_logit if scale == "probability" else (lambda v: np.asarray(v, dtype=np.float64))
    fold_ref, final_ref = to_line(fold_reference), to_line(final_reference)
    if fold_ref.size < 2 or fold_ref.std() == 0 or final_ref.std() == 0:
        return np.asarray(scores, dtype=np.float64)
    line = (to_line(scores) - fold_ref.mean()) / fold_ref.std() * final_ref.std() + final_ref.mean()
    return 1.0 / (1.0 + np.exp(-line)) if scale == "probability" else line
