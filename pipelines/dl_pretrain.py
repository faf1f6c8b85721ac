"""DVC stage `dl_pretrain`: self-supervised (SimCLR) encoders for the architectures of
`dl_pretrain.architectures`, from the training split's images and the study's unlabelled archives
(`study.pretraining_cohorts`); `dl_train` starts those architectures from them."""

from __future__ import annotations

from sonorisk import paths
from sonorisk.deep.pretrain_job import DlPretrainParams, pretrain_job, training_rows_only
from sonorisk.deep.study_rows import DlTrainParams, load_training_rows, zoo_recipe
from sonorisk.gates import StudyError, run_stage
from sonorisk.params import stage_params
from sonorisk.study import Study


def main() -> None:
    study = stage_params("study", Study)
    train = stage_params("dl_train", DlTrainParams)  # the architectures as dl_train builds them
    params = stage_params("dl_pretrain", DlPretrainParams)
    archives = [paths.cohort_file(name) for name in study.pretraining_cohorts]
    absent = [str(a) for a in archives if not a.exists()]
    if absent:
        raise StudyError(f"study.pretraining_cohorts names {', '.join(absent)}, which do not exist (ingest them first)")
    rows, split, _, _ = load_training_rows(paths.validated_cohorts(), paths.SPLIT_FILE)
    input_size = train.profiles[train.profile].input_size
    zoo = zoo_recipe(train.models, input_size, train.crop_margin, train.normalise)
    pretrain_job(training_rows_only(rows, split), archives, study.external_centres, params, zoo)


if __name__ == "__main__":
    run_stage("dl_pretrain", main)
