"""The deep-learning training job, shared by the DVC stage ``dl_train`` and ``sonorisk dl-train``.

``train_job`` reads validated cohorts and the split, trains the zoo by k-fold CV on the training
rows, writes the chosen architecture's fold ensemble (one safetensors file per fold + model card),
out-of-fold DL Scores of the training patients from the same folds, per-model metrics and training
histories. Settings come as the ``dl_train`` section of params.yaml (see that file for every key).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from sonorisk import paths
from sonorisk.atomic_file import write_json, write_parquet
from sonorisk.deep.study_rows import DlTrainParams, load_training_rows, zoo_from_params
from sonorisk.deep.train import TrainConfig


@dataclass(frozen=True)
class TrainOutputs:
    """Where ``train_job`` writes."""

    model_dir: Path = paths.DEEP_MODELS
    oof_scores: Path = paths.DL_OOF_SCORES
    metrics: Path = paths.DEEP_METRICS
    history: Path = paths.TRAINING_HISTORY
    timings: Path = paths.TIMINGS_DIR / "dl_train.json"


def train_config(params: DlTrainParams) -> TrainConfig:
    profile = params.profiles[params.profile]
    return TrainConfig(
        epochs=profile.epochs,
        batch_size=profile.batch_size,
        lr=params.lr,
        weight_decay=params.weight_decay,
        patience=params.patience,
        min_epochs=params.min_epochs,
        seed=params.seed,
        threads=params.threads,
    )


def train_job(
    cohorts: list[Path],
    split_path: Path,
    params: DlTrainParams,
    outputs: TrainOutputs = TrainOutputs(),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train, select and save; returns the metrics written to ``outputs.metrics``."""
    from safetensors.torch import load_file

    from sonorisk.deep.model_io import save_model
    from sonorisk.deep.pretrained import CARD, load_pretrained, pretrained_sha256
    from sonorisk.deep.zoo import train_zoo

    start = time.perf_counter()
    rows, split, outcome, persons = load_training_rows(cohorts, split_path)
    config = train_config(params)
    init_path = params.init_weights
    if init_path and not Path(init_path).exists():
        raise FileNotFoundError(f"--init-weights {init_path} does not exist")
    init = load_file(str(init_path)) if init_path else None
    pretrained_dir = params.pretrained
    if pretrained_dir and not (Path(pretrained_dir) / CARD).exists():
        raise FileNotFoundError(f"dl_train.pretrained {pretrained_dir} holds no {CARD}: run dl_pretrain first")
    pretrained = load_pretrained(Path(pretrained_dir) if pretrained_dir else None)
    log(
        f"dl_train: {int((split == 'training').sum())} training, {int((split == 'internal_validation').sum())} "
        f"internal-validation rows; zoo {', '.join(params.models)}; profile {params.profile}"
        + (f"; self-supervised encoders for {', '.join(pretrained)}" if pretrained else "")
    )
    result = train_zoo(
        zoo_from_params(params),
        rows,
        split,
        outcome,
        config,
        params.oof_folds,
        log,
        init,
        persons,
        params.prefer,
        pretrained,
    )
    card = save_model(
        result.model,
        outputs.model_dir,
        {
            "selected_by": result.selection,
            # Only what the selection saw, all from the training rows: internal and external AUCs and
            # timings live in reports/metrics/deep.json, so the model files depend on the training
            # data alone (and are byte-identical across runs).
            "zoo_cv": {
                name: {"oof_training": m["oof_training"], "parameters": m["parameters"], "folds": m["folds"]}
                for name, m in result.metrics.items()
            },
            "oof_training_auc": result.oof_metrics,
            "training_data_sha256": result.training_data_sha256,
            "train_config": config.__dict__,
            "profile": params.profile,
            "init_weights": str(init_path) if init_path else None,
            "pretrained": {name: pretrained_sha256(Path(str(pretrained_dir)), name) for name in pretrained},
        },
    )
    train_rows = np.flatnonzero(split == "training")
    write_parquet(
        pa.table(
            {
                "cohort_id": [rows[i]["cohort_id"] for i in train_rows],
                "patient_id": [rows[i]["patient_id"] for i in train_rows],
                "dl_score_oof": [float(result.oof_scores[i]) for i in train_rows],
                "model_id": [result.winner] * len(train_rows),
            }
        ),
        outputs.oof_scores,
        compression="snappy",
    )
    # Seconds vary from run to run; they go to the timings file, not to the metrics DVC tracks.
    seconds = {"total": round(time.perf_counter() - start, 1)}
    seconds |= {name: model_metrics.pop("seconds") for name, model_metrics in result.metrics.items()}
    # The headline (AUCs with CIs, the selection); fold notes and counts are in the model card.
    metrics = {
        "winner": result.winner,
        "selection": result.selection,
        "models": {name: _headline(m) for name, m in result.metrics.items()},
        "winner_oof_training": _auc(result.oof_metrics),
        "weights_sha256": card["weights_sha256"],
    }
    for path, content in ((outputs.metrics, metrics), (outputs.history, result.histories), (outputs.timings, seconds)):
        write_json(path, content)
    log(
        f"dl_train: winner {result.winner} (out-of-fold AUC {result.oof_metrics['auc']:.3f}, "
        f"{len(card['members'])} fold models), model sha256 {card['weights_sha256']}, "
        f"{seconds['total']:.0f} s"
    )
    return metrics


def _auc(m: dict[str, Any]) -> dict[str, float]:
    return {k: m[k] for k in ("auc", "ci_low", "ci_high")}


def _headline(m: dict[str, Any]) -> dict[str, Any]:
    """One architecture's AUC with its CI on each split, its out-of-fold standard error and size."""
    splits = {k: _auc(v) for k, v in m.items() if isinstance(v, dict) and "auc" in v}
    return splits | {k: m[k] for k in ("oof_standard_error", "parameters") if k in m}
