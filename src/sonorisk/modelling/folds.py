"""Cross-validation folds for every CV and out-of-fold loop: stratified by outcome, seeded, and with
persons kept whole.

``k`` is clamped to what the data allow (at least 2, at most the rarer class's count), so a small
training split still gets folds with both outcomes. With ``groups`` (one person key per row), rows
of one person never sit on both sides of a fold (``StratifiedGroupKFold``). When every person has
one row, that is plain ``StratifiedKFold``, used as such so the folds of one-row-per-person cohorts
do not depend on whether groups were passed.

Example:
    >>> import numpy as np
    >>> y = np.array([1, 0, 1, 0, 0, 0, 1, 0], dtype=bool)
    >>> folds = stratified_folds(y, k=10, seed=0)
    >>> len(folds), sorted(int(i) for _, held in folds for i in held) == list(range(8))
    (3, True)
    >>> person = ["a", "a", "b", "b", "c", "c", "d", "d"]
    >>> grouped = stratified_folds(y, 2, 0, groups=person)
    >>> [sorted({person[i] for i in fit} & {person[i] for i in held}) for fit, held in grouped]
    [[], []]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Fold = tuple[np.ndarray, np.ndarray]


def fold_count(k: int, y: np.ndarray, groups: Sequence[str] | None = None) -> int:
    """``k`` clamped to [2, the rarer outcome's count] (counted in persons when grouped)."""
    y = np.asarray(y).astype(bool)
    if groups is None:
        positive, negative = int(y.sum()), int((~y).sum())
    else:
        positive = len({g for g, label in zip(groups, y, strict=True) if label})
        negative = len({g for g, label in zip(groups, y, strict=True) if not label})
    return max(2, min(k, positive, negative))


def stratified_folds(y: np.ndarray, k: int, seed: int, groups: Sequence[str] | None = None) -> list[Fold]:
    """(fit positions, held-out positions) per fold over the rows of ``y``."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    y = np.asarray(y).astype(bool)
    n_folds = fold_count(k, y, groups)
    placeholder = np.zeros(y.size)
    if groups is None or len(set(groups)) == len(groups):
        return list(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(placeholder, y))
    splitter = StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)
    return list(splitter.split(placeholder, y, np.asarray(list(groups), dtype=object)))
