"""``sonorisk radiomics``, ``dl-train`` and ``dl-score``: the image-derived scores' inputs and models."""

from __future__ import annotations

import argparse
from pathlib import Path

from sonorisk import paths
from sonorisk.cli.progress import add_quiet, show_progress


def add_commands(sub: argparse._SubParsersAction) -> None:
    _add_radiomics(sub)
    _add_dl_train(sub)
    _add_dl_score(sub)


def _add_radiomics(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "radiomics",
        help="extract pyradiomics features of every row of a cohort, fanned out on Ray",
        description=(
            "Extract radiomics features (pyradiomics, settings in data_contracts/radiomics/) for every "
            "row of a cohort Parquet, several cases per Ray task over all cores of a local cluster, or "
            "of the cluster named by RAY_ADDRESS. Writes one row per input row in input order: every "
            "feature column always (nulls when a case fails), status, error, settings hash; package "
            "versions and code hash in the Parquet metadata. A failing case never stops the run."
        ),
    )
    p.add_argument("cohort", type=Path, help="cohort Parquet (validated rows)")
    p.add_argument("--out", type=Path, required=True, help="feature Parquet (the pipeline's is DVC's: dvc repro)")
    p.add_argument("--settings", type=Path, help="pyradiomics parameter file (default: the contract's)")
    p.add_argument("--mask-column", default="mask_png", help="mask_png (reader 1) or mask_reader2_png")
    p.add_argument("--cases-per-task", type=int, default=4, help="cases per Ray task (amortises overhead)")
    add_quiet(p)
    p.set_defaults(run=_run_radiomics)


def _run_radiomics(args: argparse.Namespace) -> int:
    import time

    from sonorisk.contracts.validate import open_cohort
    from sonorisk.radiomics.fanout import extract_with_ray
    from sonorisk.radiomics.feature_table import write_feature_table
    from sonorisk.radiomics.settings import DEFAULT_SETTINGS, load_settings
    from sonorisk.runtime import describe_target, ray_session

    open_cohort(args.cohort)
    settings = load_settings(args.settings or DEFAULT_SETTINGS)
    print(f"radiomics on {describe_target()}: settings {Path(settings.source).name} ({settings.sha256[:12]})")
    start = time.perf_counter()
    with ray_session(defer=True) as ensure_ray:
        run = extract_with_ray(
            args.cohort,
            settings,
            args.mask_column,
            cases_per_task=args.cases_per_task,
            progress=show_progress(args),
            ensure_ray=ensure_ray,
        )
        write_feature_table(run.table, args.out, settings)
    seconds = time.perf_counter() - start
    status = run.table.column("status").to_pylist()
    print(
        f"wrote {args.out}: {len(status)} cases, {status.count('ok')} ok, {len(status) - status.count('ok')} failed, "
        f"{len(status) / seconds:.2f} cases/s; cases per worker node: {dict(run.nodes)}"
    )
    return 0


def _add_dl_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dl-train",
        help="train the DL zoo (ResNet34, ViT, ResNet34-into-ViT) by k-fold CV and keep the chosen fold models",
        description=(
            "Train every architecture of the zoo by person-grouped k-fold cross-validation on the development "
            "centre's training split (each fold model stops at its best epoch on its fold's held-out part), "
            "choose the architecture by out-of-fold AUC with a one-standard-error rule (within it: the "
            "dl_train.prefer list, then the fewest parameters), and keep that architecture's k fold models as "
            "one ensemble. Internal-validation and external rows are scored afterwards, to report only. Writes "
            "the ensemble (one safetensors file per fold, hashes in the model card), the out-of-fold DL Scores "
            "of the training patients from the same folds, per-model AUCs with 95 % DeLong CIs and training "
            "histories. Settings: the dl_train section of --params; the options below override it. "
            "Deterministic on CPU for a seed."
        ),
    )
    p.add_argument("cohorts", type=Path, nargs="+", help="validated cohort Parquet file(s)")
    p.add_argument("--split", type=Path, default=paths.SPLIT_FILE, help="split Parquet")
    p.add_argument("--params", type=Path, default=paths.PARAMS_FILE, help="YAML with a dl_train section")
    p.add_argument("--profile", help="parameter profile: cpu (small crops, few epochs) or gpu (full resolution)")
    p.add_argument("--models", help="comma-separated subset of the zoo, e.g. resnet34_vit")
    p.add_argument("--seed", type=int, help="training seed")
    p.add_argument(
        "--init-weights",
        type=Path,
        help="local .safetensors to start from (e.g. ImageNet ResNet34); tensors are matched by name and shape",
    )
    p.add_argument(
        "--pretrained",
        help="folder of self-supervised encoders written by the dl_pretrain stage (default: dl_train.pretrained); "
        "'none' trains every architecture from scratch",
    )
    p.add_argument("--out", type=Path, required=True, help="model folder (weights + card)")
    p.add_argument("--oof", type=Path, required=True, help="out-of-fold scores Parquet")
    p.add_argument("--metrics", type=Path, required=True, help="metrics JSON")
    p.set_defaults(run=_run_dl_train)


def _run_dl_train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from sonorisk.deep.study_rows import DlTrainParams
    from sonorisk.deep.train_job import TrainOutputs, train_job
    from sonorisk.params import stage_params

    params = stage_params("dl_train", DlTrainParams, args.params)
    if args.profile:
        if args.profile not in params.profiles:
            raise ValueError(f"--profile {args.profile}: known profiles are {', '.join(params.profiles)}")
        params = replace(params, profile=args.profile)
    if args.models:
        wanted = [m.strip() for m in args.models.split(",") if m.strip()]
        unknown = [m for m in wanted if m not in params.models]
        if unknown:
            raise ValueError(f"--models: {', '.join(unknown)} not in the zoo ({', '.join(params.models)})")
        params = replace(params, models={m: params.models[m] for m in wanted})
    if args.seed is not None:
        params = replace(params, seed=args.seed)
    if args.init_weights:
        params = replace(params, init_weights=str(args.init_weights))
    if args.pretrained:
        params = replace(params, pretrained=None if args.pretrained.lower() == "none" else args.pretrained)
    outputs = TrainOutputs(
        args.out,
        args.oof,
        args.metrics,
        args.metrics.with_name("deep_history.json"),
        args.metrics.with_name("deep_timings.json"),
    )
    train_job(args.cohorts, args.split, params, outputs)
    print(f"model {args.out}\nout-of-fold scores {args.oof}\nmetrics {args.metrics}")
    return 0


def _add_dl_score(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dl-score",
        help="DL Score of every row of some cohorts with a trained model, batch-scored on Ray Data",
        description=(
            "Score every row of the cohort Parquet file(s) with the model in --model: Ray Data reads the "
            "Parquet, CPU tasks decode and crop the images, an actor pool (one GPU per actor when the "
            "cluster has GPUs, CPU actors otherwise) runs the network, and the scores are written as a "
            "single Parquet file: patient_id, cohort_id, center, dl_score, model_id, model_sha256, "
            "crop_error. Same row count as the input; a row whose image cannot be decoded gets a null "
            "score and the reason. Uses the cluster named by RAY_ADDRESS, else a local one."
        ),
    )
    p.add_argument("cohorts", type=Path, nargs="+", help="cohort Parquet file(s) (validated rows)")
    p.add_argument("--model", type=Path, default=paths.DEEP_MODELS, help="model folder written by dl-train")
    p.add_argument("--out", type=Path, required=True, help="output Parquet file (the pipeline's is DVC's: dvc repro)")
    p.add_argument("--batch-size", type=int, default=64, help="images per model call")
    p.add_argument(
        "--actors",
        type=int,
        help=(
            "scoring actors (default: one per GPU; without GPUs one single-threaded actor per CPU, as many "
            "as memory allows; fewer actors share the cores' threads and use less memory)"
        ),
    )
    add_quiet(p)
    p.set_defaults(run=_run_dl_score)


def _run_dl_score(args: argparse.Namespace) -> int:
    from sonorisk.deep.score_job import score_job
    from sonorisk.runtime import describe_target

    if args.batch_size < 1:
        raise ValueError("--batch-size must be at least 1")
    print(f"dl-score on {describe_target()} with {args.model}")
    summary = score_job(args.cohorts, args.model, args.out, args.batch_size, args.actors, show_progress(args))
    print(
        f"wrote {args.out}: {summary['rows']} rows, {summary['scored']} scored, {summary['unscorable']} "
        f"unscorable (null dl_score, reason in crop_error), {summary['seconds']:.0f} s"
    )
    return 0
