"""DVC stage `dl_train`: train the model zoo on the training split, select by internal-validation
AUC, out-of-fold DL Scores for training patients, winner as safetensors + model card."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from safetensors.torch import load_file

from pipelines.params import stage_params
from sonorisk.deep.model_io import save_model
from sonorisk.deep.train import TrainConfig
from sonorisk.deep.zoo import train_zoo


def _key(row: dict) -> tuple[str, str]:
    return row["cohort_id"], row["patient_id"]


def main() -> None:
    params = stage_params("dl_train")
    profile = params["profiles"][params["profile"]]
    start = time.perf_counter()
    split_rows = {_key(r): r for r in pq.read_table("data/splits/split.parquet").to_pylist()}
    rows = []
    for cohort in sorted(Path("data/validated").glob("*.parquet")):
        columns = ["cohort_id", "patient_id", "image_png", "mask_png"]
        rows.extend(r for r in pq.read_table(cohort, columns=columns).to_pylist() if _key(r) in split_rows)
    split = np.array([split_rows[_key(r)]["split"] for r in rows])
    outcome = np.array([bool(split_rows[_key(r)]["outcome"]) for r in rows])
    config = TrainConfig(
        epochs=profile["epochs"],
        batch_size=profile["batch_size"],
        lr=params["lr"],
        weight_decay=params["weight_decay"],
        patience=params["patience"],
        seed=params["seed"],
        threads=params["threads"],
    )
    shared = {"input_size": profile["input_size"], "crop_margin": params["crop_margin"]}
    zoo = {name: shared | (options or {}) for name, options in params["models"].items()}
    init = load_file(params["init_weights"]) if params.get("init_weights") else None
    result = train_zoo(zoo, rows, split, outcome, config, params["oof_folds"], init_weights=init)
    seconds = time.perf_counter() - start

    card = save_model(
        result.model,
        Path("models/deep"),
        {
            "selected_by": "internal-validation AUC across the zoo",
            "zoo_metrics": result.metrics,
            "oof_training_auc": result.oof_metrics,
            "training_data_sha256": result.training_data_sha256,
            "train_config": config.__dict__,
            "profile": params["profile"],
        },
    )
    train_rows = [i for i, s in enumerate(split) if s == "training"]
    pq.write_table(
        pa.table(
            {
                "cohort_id": [rows[i]["cohort_id"] for i in train_rows],
                "patient_id": [rows[i]["patient_id"] for i in train_rows],
                "dl_score_oof": [float(result.oof_scores[i]) for i in train_rows],
                "model_id": [result.winner] * len(train_rows),
            }
        ),
        "data/scores/dl_oof.parquet",
    )
    metrics = {
        "winner": result.winner,
        "models": result.metrics,
        "winner_oof_training": result.oof_metrics,
        "weights_sha256": card["weights_sha256"],
        "seconds": round(seconds, 1),
    }
    Path("reports/metrics").mkdir(parents=True, exist_ok=True)
    Path("reports/metrics/deep.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    Path("reports/deep").mkdir(parents=True, exist_ok=True)
    Path("reports/deep/training_history.json").write_text(json.dumps(result.histories, indent=2) + "\n")
    internal = result.metrics[result.winner]["internal_validation"]["auc"]
    print(
        f"dl_train: winner {result.winner} (internal AUC {internal:.3f}), weights {card['weights_sha256'][:16]}, "
        f"{seconds:.0f} s"
    )


if __name__ == "__main__":
    main()
