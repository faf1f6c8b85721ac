"""Out-of-fold scores from k fold models, put on the final model's scale before they are pooled,
and the per-split AUCs every model stage reports.

Each fold model (a LASSO with its own penalty and features) has its own offset and spread (once,
three DL fold models' mean held-out scores were 0.63, 0.55 and 0.33). Pooled as they are, the
offsets swamp the ranking within each fold (pooled OOF AUC 0.62 against 0.64-0.67 within folds), and
fusion, which learns from the pooled scores, discounts the score. The DL zoo now standardises each
fold model by its own held-out fold instead (``deep/ensemble.py``). Here, every fold model also
scores a common set of **reference rows** (the radiomics stage passes its training rows, so no
internal-validation row is read; labels are never used), and its scores are mapped linearly so that
on the reference rows they have the mean and standard deviation of the final model's scores there.
Probabilities are aligned on the logit scale.

Example:
    >>> import numpy as np
    >>> final_ref = np.array([-1.0, 0.0, 1.0])
    >>> fold_ref = np.array([1.0, 2.0, 3.0])  # the fold model reads 2 higher
    >>> align_to_reference(np.array([2.5]), fold_ref, final_ref, "linear").round(6).tolist()
    [0.5]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from sonorisk.modelling.folds import stratified_folds
from sonorisk.stats.delong import auc_ci

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


FoldScorer = Callable[
    [int, np.ndarray, np.ndarray, np.ndarray], tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]]
]


def out_of_fold(
    train: np.ndarray,
    y: np.ndarray,
    reference: np.ndarray,
    final_reference: Mapping[str, np.ndarray],
    scales: Mapping[str, str],
    score_fold: FoldScorer,
    k: int,
    seed: int,
    groups: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Out-of-fold scores of the ``train`` rows, each fold model aligned to the final model's scale.

    Args:
        train: row indices of the training rows (the rows that get out-of-fold scores).
        y: outcome per row (indexed like ``train``).
        reference: row indices of the reference rows (labels unused); they may include ``train``.
        final_reference: per score name, the final model's scores of the reference rows.
        scales: per score name, "linear" or "probability" (see ``align_to_reference``).
        score_fold: ``(fold, fit_rows, held_rows, reference_rows) -> (held scores, reference
            scores)`` per score name: fits one fold model on ``fit_rows`` and scores the others.
        k, seed: folds (clamped by ``folds.fold_count``) and their seed.
        groups: a person key per training row (in ``train`` order); persons stay whole.

    Returns:
        Per score name, one value per row (``len(y)``), NaN outside ``train``.
    """
    y = np.asarray(y).astype(bool)
    out = {name: np.full(y.size, np.nan) for name in scales}
    for fold, (fit, held) in enumerate(stratified_folds(y[train], k, seed, groups)):
        fit_rows, held_rows = train[fit], train[held]
        held_scores, reference_scores = score_fold(fold, fit_rows, held_rows, reference)
        for name, scale in scales.items():
            if reference.size:
                out[name][held_rows] = align_to_reference(
                    held_scores[name], reference_scores[name], final_reference[name], scale
                )
            else:
                out[name][held_rows] = held_scores[name]
    return out


def auc_by_split(
    y: np.ndarray, scores: np.ndarray, split: np.ndarray, names: Sequence[str]
) -> dict[str, dict[str, float | int]]:
    """AUC with its 95 % DeLong CI for each named split that has rows."""
    y = np.asarray(y).astype(bool)
    return {
        name: auc_ci(y[members], scores[members]).as_dict()
        for name in names
        if (members := np.flatnonzero(split == name)).size
    }
