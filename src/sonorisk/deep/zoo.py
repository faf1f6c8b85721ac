"""Train the zoo on the development centre's training split, select by internal-validation AUC, and
produce out-of-fold DL Scores for the training patients (k-fold) so fusion never sees a score from a
model that was trained on that patient.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sonorisk.cohort.split import EXTERNAL, INTERNAL, TRAINING
from sonorisk.deep.crops import crop_cases
from sonorisk.deep.preprocess import Preprocess, split_overrides
from sonorisk.deep.registry import ScoredModel
from sonorisk.deep.train import TrainConfig, TrainResult, predict, train_model
from sonorisk.modelling.folds import fold_count
from sonorisk.modelling.oof import auc_by_split, out_of_fold
from sonorisk.stats.delong import auc_ci


@dataclass
class ZooResult:
    winner: str
    model: ScoredModel
    metrics: dict[str, dict[str, Any]]
    oof_scores: np.ndarray  # per row; NaN outside the training split
    oof_metrics: dict[str, Any]
    histories: dict[str, list[dict[str, float]]] = field(default_factory=dict)
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


def train_zoo(
    zoo: dict[str, dict[str, Any]],
    rows: list[dict[str, Any]],
    split: np.ndarray,
    outcome: np.ndarray,
    config: TrainConfig,
    oof_folds: int,
    log: Any = print,
    init_weights: dict[str, Any] | None = None,
    persons: list[str] | None = None,
) -> ZooResult:
    """Fit every architecture of ``zoo`` (name -> overrides); the best internal AUC wins.

    Args:
        zoo: model name -> overrides (preprocessing fields and architecture options).
        rows: cases with ``image_png`` and ``mask_png``, aligned with ``split`` and ``outcome``.
        split: split name per row.
        outcome: outcome per row (used only inside the labelled splits).
        config: training configuration (seeded).
        oof_folds: k for the out-of-fold DL Scores of the training rows.
        log: progress lines.
        init_weights: a state dict (e.g. local ImageNet ResNet34 weights) to start every model
            from where names and shapes match; None trains from scratch.
        persons: the person of each row; the out-of-fold folds keep persons whole.
    """
    cache = CropCache(rows)
    y = np.asarray(outcome, dtype=bool)
    train, internal = np.flatnonzero(split == TRAINING), np.flatnonzero(split == INTERNAL)
    results: dict[str, TrainResult] = {}
    metrics: dict[str, dict[str, Any]] = {}
    for name, overrides in zoo.items():
        crops, _ = cache.get(preprocess_for(overrides))
        start = time.perf_counter()
        result = train_model(
            name,
            crops[train],
            y[train],
            crops[internal],
            y[internal],
            config,
            overrides,
            init_weights,
            lambda line: log(f"dl_train {line}"),
        )
        scores = predict(result.model, crops)
        metrics[name] = auc_by_split(y, scores, split, (INTERNAL, EXTERNAL)) | {
            "best_epoch": result.best_epoch,
            "epochs_run": len(result.history),
            "stopped": result.stopped,
            "seconds": round(time.perf_counter() - start, 1),
        }
        results[name] = result
        log(
            f"dl_train {name}: internal AUC {metrics[name][INTERNAL]['auc']:.3f}, "
            f"best epoch {result.best_epoch + 1}, {metrics[name]['seconds']:.0f} s"
        )

    winner = max(zoo, key=lambda n: metrics[n][INTERNAL]["auc"])
    crops, _ = cache.get(preprocess_for(zoo[winner]))
    train_persons = [persons[int(i)] for i in train] if persons is not None else None
    n_folds = fold_count(oof_folds, y[train], train_persons)

    def score_fold(
        fold: int, fit: np.ndarray, held: np.ndarray, reference: np.ndarray
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        fold_config = replace(config, seed=config.seed + 1000 * (fold + 1))
        fitted = train_model(
            winner,
            crops[fit],
            y[fit],
            crops[internal],
            y[internal],
            fold_config,
            zoo[winner],
            init_weights,
            lambda line: log(f"dl_train fold {fold + 1} {line}"),
        )
        held_scores = {"dl": predict(fitted.model, crops[held])}
        reference_scores = {"dl": predict(fitted.model, crops[reference])}
        log(f"dl_train {winner}: out-of-fold {fold + 1}/{n_folds} done")
        return held_scores, reference_scores

    # Each fold model is put on the winner's scale via the internal-validation crops (no labels):
    # modelling/oof.py explains why pooling unaligned fold scores misleads fusion.
    final_reference = {"dl": predict(results[winner].model, crops[internal])}
    scale = {"dl": "probability"}
    folded = out_of_fold(train, y, internal, final_reference, scale, score_fold, oof_folds, config.seed, train_persons)
    oof = folded["dl"]
    return ZooResult(
        winner=winner,
        model=results[winner].model,
        metrics=metrics,
        oof_scores=oof,
        oof_metrics=auc_ci(y[train], oof[train]).as_dict(),
        histories={name: r.history for name, r in results.items()},
        training_data_sha256=_hash(crops[train], y[train]),
    )
