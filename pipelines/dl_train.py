"""DVC stage `dl_train`: train the model zoo on the training split, select by internal-validation
AUC, out-of-fold DL Scores for training patients, winner as safetensors + model card."""

from __future__ import annotations

from sonorisk import paths
from sonorisk.deep.study_rows import DlTrainParams
from sonorisk.deep.train_job import TrainOutputs, train_job
from sonorisk.gates import run_stage
from sonorisk.params import stage_params


def main() -> None:
    train_job(paths.validated_cohorts(), paths.SPLIT_FILE, stage_params("dl_train", DlTrainParams), TrainOutputs())


if __name__ == "__main__":
    run_stage("dl_train", main)
