"""DVC stage `dl_train`: train the model zoo on the training split, select by internal-validation
AUC, out-of-fold DL Scores for training patients, winner as safetensors + model card."""

from __future__ import annotations

from pathlib import Path

from pipelines.params import stage_params
from sonorisk.deep.jobs import TrainOutputs, train_job


def main() -> None:
    cohorts = sorted(Path("data/validated").glob("*.parquet"))
    train_job(cohorts, Path("data/splits/split.parquet"), stage_params("dl_train"), TrainOutputs())


if __name__ == "__main__":
    main()
