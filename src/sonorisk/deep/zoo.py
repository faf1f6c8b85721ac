"""Train the zoo by person-grouped k-fold CV on the training split, choose the architecture by its
out-of-fold AUC with a one-standard-error rule, and keep the chosen architecture's k fold models as
one ensemble (``deep/ensemble.py``).

Nothing here reads an internal-validation or external row to fit, stop or select: each fold model
stops at the epoch with the best AUC on its fold's held-out part, the architecture is chosen on the
out-of-fold AUC over every training image, and the out-of-fold DL Scores fusion reads come from the
same folds. The other splits are scored afterwards, to report only.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sonorisk.cohort.split import EXTERNAL, INTERNAL, TRAINING
from sonorisk.deep.crops import crop_cases
from sonorisk.deep.ensemble import FoldEnsemble, Standardise
from sonorisk.deep.preprocess import Preprocess, split_overrides
from sonorisk.deep.registry import ScoredModel
from sonorisk.deep.train import TrainConfig, predict, predict_logits, sigmoid, train_model
from sonorisk.modelling.folds import stratified_folds
from sonorisk.modelling.oof import auc_by_split
from sonorisk.stats.delong import AucEstimate, auc_ci


@dataclass
class ArchitectureFit:
    """One architecture's k fold models and what CV says of them."""

    name: str
    model: ScoredModel  # the fold ensemble
    oof_scores: np.ndarray  # per training row (in training order), probabilities on the pooled scale
    oof: AucEstimate
    parameters: int
    folds: list[dict[str, Any]]
    histories: list[list[dict[str, float]]]
    seconds: float


@dataclass
class ZooResult:
    winner: str
    model: ScoredModel
    metrics: dict[str, dict[str, Any]]
    oof_scores: np.ndarray  # per row; NaN outside the training split
    oof_metrics: dict[str, Any]
    selection: dict[str, Any]
    histories: dict[str, list[list[dict[str, float]]]] = field(default_factory=dict)
    training_data_sha256: str = ""


def preprocess_for(overrides: dict[str, Any]) -> Preprocess:
    return split_overrides(overrides)[0]


class CropCache:
    """Crops of every row, made once per preprocessing (input size, margin)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self._cache: dict[tuple[int, float], tuple[np.ndarray, list[str | None]]] = {}

    def get(self, preprocess: Preprocess) -> tuple[np.ndarray, list[str | None]]:
        key = (preprocess.input_size, preprocess.crop_margin)
        if key not in self._cache:
            self._cache[key] = crop_cases(self.rows, preprocess)
        return self._cache[key]


def _hash(crops: np.ndarray, y: np.ndarray) -> str:
    return hashlib.sha256(crops.tobytes() + np.asarray(y, dtype=np.uint8).tobytes()).hexdigest()


def standard_error(estimate: AucEstimate) -> float:
    """The DeLong standard error of an AUC (0 when it has no variance, e.g. one class)."""
    return float(np.sqrt(estimate.variance)) if np.isfinite(estimate.variance) and estimate.variance > 0 else 0.0


def select_architecture(
    fits: dict[str, tuple[AucEstimate, int]], prefer: Sequence[str] = ()
) -> tuple[str, dict[str, Any]]:
    """The one-standard-error rule: among the architectures whose out-of-fold AUC is within one
    standard error of the best, the first of ``prefer`` (e.g. the study's hybrid), else the one with
    the fewest parameters, else the best.

    Args:
        fits: name -> (out-of-fold AUC estimate, parameter count), in zoo order.
        prefer: names preferred within the band, in order.

    Example:
        >>> est = lambda a, v: AucEstimate(a, v, a - 0.1, a + 0.1, 10, 30)
        >>> select_architecture({"big": (est(0.70, 0.0025), 9), "small": (est(0.66, 0.0025), 1)})[0]
        'small'
        >>> select_architecture({"big": (est(0.70, 0.0004), 9), "small": (est(0.66, 0.0004), 1)})[0]
        'big'
    """
    finite = {n: f for n, f in fits.items() if np.isfinite(f[0].auc)}
    if not finite:
        name = next(iter(fits))
        return name, {"rule": "no architecture has a finite out-of-fold AUC: the first is kept", "within": [name]}
    best = max(finite, key=lambda n: finite[n][0].auc)
    threshold = finite[best][0].auc - standard_error(finite[best][0])
    within = [n for n, (estimate, _) in finite.items() if estimate.auc >= threshold]
    preferred = [n for n in prefer if n in within]
    chosen = preferred[0] if preferred else min(within, key=lambda n: (finite[n][1], -finite[n][0].auc))
    return chosen, {
        "rule": "out-of-fold AUC within one standard error of the best; then the preferred, then the fewest parameters",
        "best": best,
        "threshold": threshold,
        "within": within,
        "prefer": list(prefer),
    }


def fit_architecture(
    name: str,
    overrides: dict[str, Any],
    crops: np.ndarray,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    config: TrainConfig,
    init_weights: dict[str, Any] | None,
    log: Callable[[str], None],
) -> ArchitectureFit:
    """k fold models of ``name`` on the training ``crops`` (already restricted to training rows)."""
    start = time.perf_counter()
    members, scales, fold_notes, histories = [], [], [], []
    z = np.full(len(y), np.nan)
    for fold, (fit, held) in enumerate(folds):
        prefix = f"dl_train fold {fold + 1}/{len(folds)}"
        fitted = train_model(
            name,
            crops[fit],
            y[fit],
            crops[held],
            y[held],
            replace(config, seed=config.seed + 1000 * (fold + 1)),
            overrides,
            init_weights,
            lambda line: log(f"{prefix} {line}"),  # noqa: B023  (called within this iteration)
        )
        logits = predict_logits(fitted.model, crops[held])
        scale = Standardise.of(logits)
        z[held] = (logits - scale.centre) / scale.scale
        members.append(fitted.model.network)
        scales.append(scale)
        histories.append(fitted.history)
        fold_notes.append(
            {
                "fold": fold + 1,
                "fit_rows": int(fit.size),
                "held_rows": int(held.size),
                "best_epoch": fitted.best_epoch,
                "epochs_run": len(fitted.history),
                "stopped": fitted.stopped,
                "held_auc": fitted.best_val_auc,
            }
        )
    output = Standardise.pooled(scales)
    oof_scores = sigmoid(z * output.scale + output.centre).astype(np.float64)
    template = fitted.model
    ensemble = ScoredModel(name, FoldEnsemble(members, scales, output), template.preprocess, template.options).eval()
    return ArchitectureFit(
        name=name,
        model=ensemble,
        oof_scores=oof_scores,
        oof=auc_ci(y, oof_scores),
        parameters=sum(p.numel() for p in members[0].parameters()),
        folds=fold_notes,
        histories=histories,
        seconds=round(time.perf_counter() - start, 1),
    )


def train_zoo(
    zoo: dict[str, dict[str, Any]],
    rows: list[dict[str, Any]],
    split: np.ndarray,
    outcome: np.ndarray,
    config: TrainConfig,
    folds: int,
    log: Any = print,
    init_weights: dict[str, Any] | None = None,
    persons: list[str] | None = None,
    prefer: Sequence[str] = (),
    pretrained: dict[str, dict[str, Any]] | None = None,
) -> ZooResult:
    """Fit every architecture of ``zoo`` (name -> overrides) by k-fold CV on the training rows; the
    one-standard-error rule on the out-of-fold AUC chooses; its fold models are the model.

    Args:
        zoo: model name -> overrides (preprocessing fields and architecture options).
        rows: cases with ``image_png`` and ``mask_png``, aligned with ``split`` and ``outcome``.
        split: split name per row.
        outcome: outcome per row (read on the training rows only).
        config: training configuration (seeded).
        folds: k, clamped by ``modelling/folds.fold_count``; the same folds for every architecture.
        log: progress lines.
        init_weights: a state dict (e.g. pretrained encoder weights) to start every model from where
            names and shapes match; None trains from scratch.
        persons: the person of each row; folds keep persons whole.
        prefer: architectures preferred within one standard error of the best (in order).
        pretrained: architecture -> its self-supervised encoder weights (``dl_pretrain``); such an
            architecture starts from them instead of ``init_weights``.
    """
    cache = CropCache(rows)
    y = np.asarray(outcome, dtype=bool)
    train = np.flatnonzero(split == TRAINING)
    train_persons = [persons[int(i)] for i in train] if persons is not None else None
    drawn = stratified_folds(y[train], folds, config.seed, train_persons)
    log(f"dl_train: {len(drawn)} person-grouped folds over {train.size} training images")

    fits: dict[str, ArchitectureFit] = {}
    metrics: dict[str, dict[str, Any]] = {}
    training_crops: dict[tuple[int, float], np.ndarray] = {}  # one copy per preprocessing, not per architecture
    for name, overrides in zoo.items():
        preprocess = preprocess_for(overrides)
        key = (preprocess.input_size, preprocess.crop_margin)
        if key not in training_crops:
            training_crops[key] = cache.get(preprocess)[0][train]
        init = (pretrained or {}).get(name, init_weights)
        fit = fit_architecture(name, overrides, training_crops[key], y[train], drawn, config, init, log)
        fits[name] = fit
        log(
            f"dl_train {name}: out-of-fold AUC {fit.oof.auc:.3f} [{fit.oof.low:.3f}, {fit.oof.high:.3f}], "
            f"{fit.parameters:,} parameters, {fit.seconds:.0f} s"
        )

    winner, selection = select_architecture({n: (f.oof, f.parameters) for n, f in fits.items()}, prefer)
    log(f"dl_train: chose {winner} ({', '.join(selection['within'])} within one standard error of the best)")
    # Reported after the choice, and never read by it: each ensemble's AUC on the other splits.
    for name, fit in fits.items():
        crops, _ = cache.get(preprocess_for(zoo[name]))
        reported = np.flatnonzero(split != TRAINING)
        scores = np.full(len(rows), np.nan)
        scores[reported] = predict(fit.model, crops[reported])
        metrics[name] = {
            "oof_training": fit.oof.as_dict(),
            "oof_standard_error": standard_error(fit.oof),
            "parameters": fit.parameters,
            "folds": fit.folds,
            "seconds": fit.seconds,
        } | auc_by_split(y, scores, split, (INTERNAL, EXTERNAL))

    chosen = fits[winner]
    oof = np.full(len(rows), np.nan)
    oof[train] = chosen.oof_scores
    crops, _ = cache.get(preprocess_for(zoo[winner]))
    return ZooResult(
        winner=winner,
        model=chosen.model,
        metrics=metrics,
        oof_scores=oof,
        oof_metrics=chosen.oof.as_dict(),
        selection=selection,
        histories={name: fit.histories for name, fit in fits.items()},
        training_data_sha256=_hash(crops[train], y[train]),
    )
