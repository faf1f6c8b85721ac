"""DVC stage `dl_pretrain`: self-supervised (SimCLR) encoders for the architectures of
`dl_pretrain.architectures`, from the training split's images and the study's unlabelled archives
(`study.pretraining_cohorts`); `dl_train` starts those architectures from them."""

from __future__ import annotations

from sonorisk import paths
from sonorisk.deep.pretrain_job import pretrain_job, training_rows_only
from sonorisk.deep.study_rows import load_training_rows, zoo_from_params
from sonorisk.gates import StudyError, run_stage
from sonorisk.params import stage_params


def main() -> None:
    study = stage_params("study")
    archives = [paths.cohort_file(name) for name in study.get("pretraining_cohorts") or {}]
    absent = [str(a) for a in archives if not a.exists()]
    if absent:
        raise StudyError(f"study.pretraining_cohorts names {', '.join(absent)}, which do not exist (ingest them first)")
    rows, split, _, _ = load_training_rows(paths.validated_cohorts(), paths.SPLIT_FILE)
    train = stage_params("dl_train")  # the architectures as dl_train builds them, nothing else of its section
    recipe = {
        "models": train["models"],
        "profile": train["profile"],
        "profiles": train["profiles"],
        "crop_margin": train["crop_margin"],
        "normalise": train["normalise"],
    }
    external = {"external_centres": study["external_centres"]}
    pretrain_job(
        training_rows_only(rows, split), archives, external, stage_params("dl_pretrain"), zoo_from_params(recipe)
    )


if __name__ == "__main__":
    run_stage("dl_pretrain", main)
