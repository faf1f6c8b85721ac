"""The ``sonorisk`` command: one sub-command per job a hospital data team runs.

Heavy libraries are imported inside each command so ``sonorisk --help`` answers at once.
Cohort-level problems end with a one-line message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

EXIT_COHORT_PROBLEM = 2


def _add_synth(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth",
        help="generate a synthetic multicentre cohort (the embedded default)",
        description=(
            "Generate a synthetic cohort: B-mode ultrasound images with lesion masks, clinical-"
            "pathological fields and a brain-metastasis outcome from a documented risk model "
            "(docs/synthetic.md). Writes the cohort Parquet and a separate truth file (true "
            "probability per patient; never a model input) and prints the oracle AUC. The same "
            "seed gives byte-identical files."
        ),
    )
    p.add_argument("--n", type=int, help="total patients, split over --centres by their default proportions")
    p.add_argument(
        "--centres",
        help="'A=250,B=111' (counts) or 'A,B' (split --n by default proportions); default A=250,B=111, "
        "or A,B with --n; known centres: A, B, C, D (see docs/synthetic.md)",
    )
    p.add_argument("--seed", type=int, default=2026, help="root seed (default 2026)")
    p.add_argument("--no-labels", action="store_true", help="write null outcomes: a new cohort to score")
    p.add_argument("--cohort-id", help="cohort_id column value (default synthetic-<seed>)")
    p.add_argument("--out", type=Path, default=Path("data/cohorts/synthetic.parquet"), help="cohort Parquet path")
    p.add_argument("--truth", type=Path, help="truth Parquet path (default: beside --out, *.truth.parquet)")
    p.add_argument("--no-reader2", action="store_true", help="skip the second reader's masks")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (results do not depend on it)")
    p.add_argument("--preview", action="store_true", help="also write a 16-case montage per centre")
    p.add_argument("--preview-dir", type=Path, default=Path("reports/preview"), help="where montages go")
    p.set_defaults(run=_run_synth)


def _run_synth(args: argparse.Namespace) -> int:
    from sonorisk.cohort.centres import parse_centres
    from sonorisk.cohort.preview import write_previews
    from sonorisk.cohort.synth import SynthConfig, write_synthetic_cohort

    if args.n is not None and args.n < 1:
        raise ValueError("--n must be at least 1")
    config = SynthConfig(
        centres=parse_centres(args.centres or ("A,B" if args.n else "A=250,B=111"), args.n),
        seed=args.seed,
        cohort_id=args.cohort_id or f"synthetic-{args.seed}",
        labels=not args.no_labels,
        second_reader=not args.no_reader2,
    )
    truth = args.truth or args.out.with_name(args.out.name.removesuffix(".parquet") + ".truth.parquet")
    summary = write_synthetic_cohort(config, args.out, truth, workers=args.workers, progress=sys.stderr.isatty())
    centres = ", ".join(f"{c} {n}" for c, n in summary.per_centre.items())
    print(f"wrote {args.out}: {summary.n} patients ({centres}), cohort_id {config.cohort_id}")
    print(
        f"brain metastasis prevalence {summary.prevalence:.1%}"
        + ("" if config.labels else " (labels withheld; kept in the truth file)")
    )
    print(f"oracle AUC {summary.oracle_auc:.3f} (true probability vs outcome: the best any model can reach here)")
    print(f"truth file {truth} (never a model input)")
    if args.preview:
        for path in write_previews(args.out, args.preview_dir):
            print(f"preview {path}")
    return 0


def _add_validate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check a cohort against the data contracts; split valid rows from quarantined ones",
        description=(
            "Validate a cohort Parquet against data_contracts/cohort/: the column contract, the Great "
            "Expectations suites (cohort; clinical when clinical fields are present) and the image "
            "checks. Writes valid rows, a quarantine table with every reason per row (column, rule, "
            "value), a JSON summary and GE Data Docs. Rows in = valid + quarantined. Exit 0 even "
            "with quarantined rows; exit 2 with a one-line reason when the cohort as a whole is "
            "unusable (missing file or column, wrong type, no rows)."
        ),
    )
    p.add_argument("cohort", type=Path, help="cohort Parquet")
    p.add_argument("--valid", type=Path, help="valid rows (default data/validated/<name>.parquet)")
    p.add_argument("--quarantine", type=Path, help="quarantined rows (default data/quarantine/<name>.parquet)")
    p.add_argument("--summary", type=Path, help="JSON summary (default reports/validation/<name>.json)")
    p.add_argument("--docs", type=Path, help="GE Data Docs folder (default reports/validation/data_docs/<name>)")
    p.add_argument("--run-date", type=dt.date.fromisoformat, help="judge 'not in the future' against this date")
    p.set_defaults(run=_run_validate)


def _run_validate(args: argparse.Namespace) -> int:
    from sonorisk.contracts.validate import validate_cohort, write_summary

    name = args.cohort.name.removesuffix(".parquet")
    valid = args.valid or Path("data/validated") / f"{name}.parquet"
    quarantine = args.quarantine or Path("data/quarantine") / f"{name}.parquet"
    summary_path = args.summary or Path("reports/validation") / f"{name}.json"
    docs = args.docs or Path("reports/validation/data_docs") / name
    summary = validate_cohort(args.cohort, valid, quarantine, docs, args.run_date, progress=sys.stderr.isatty())
    write_summary(summary, summary_path)
    print(
        f"{args.cohort}: {summary.rows_in} rows in = {summary.rows_valid} valid + "
        f"{summary.rows_quarantined} quarantined"
    )
    for rule, count in summary.report["reasons_by_rule"].items():
        print(f"  {count:6d}  {rule}")
    print(f"valid {valid}\nquarantine {quarantine}\nsummary {summary_path}\ndata docs {docs / 'index.html'}")
    return 0


def _add_ingest(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ingest",
        help="build a cohort Parquet from folders of images and masks plus a clinical CSV",
        description=(
            "Turn a folder of images (PNG/JPEG/BMP, or NRRD/NIfTI/DICOM through SimpleITK), a folder "
            "of masks and a clinical CSV into a cohort Parquet. A small YAML mapping file names the "
            "CSV columns and how image and mask files are named (see docs/ingest.md). Every "
            "conversion (RGB -> grey, mask values -> binary, merged masks, spacing source) is "
            "recorded per row; unmatched images, masks and CSV rows are reported."
        ),
    )
    p.add_argument("--images", type=Path, required=True, help="folder of images")
    p.add_argument("--masks", type=Path, required=True, help="folder of masks")
    p.add_argument("--clinical", type=Path, required=True, help="clinical CSV, one row per image")
    p.add_argument("--mapping", type=Path, required=True, help="YAML mapping of CSV columns and file names")
    p.add_argument("--out", type=Path, required=True, help="cohort Parquet to write")
    p.add_argument("--pixel-spacing", type=float, help="mm per pixel for images that carry none (PNG/JPEG/BMP)")
    p.add_argument("--cohort-id", help="cohort_id value (default: the mapping's, else the output name)")
    p.add_argument("--report", type=Path, help="JSON ingest report (default: beside --out, *.ingest.json)")
    p.set_defaults(run=_run_ingest)


def _run_ingest(args: argparse.Namespace) -> int:
    from sonorisk.cohort.ingest import ingest_folder, load_mapping

    mapping = load_mapping(args.mapping)
    report_path = args.report or args.out.with_name(args.out.name.removesuffix(".parquet") + ".ingest.json")
    report = ingest_folder(
        images_dir=args.images,
        masks_dir=args.masks,
        clinical_csv=args.clinical,
        mapping=mapping,
        out_path=args.out,
        report_path=report_path,
        pixel_spacing_mm=args.pixel_spacing,
        cohort_id=args.cohort_id,
    )
    print(f"wrote {args.out}: {report['rows_written']} rows")
    for key in (
        "images_without_mask",
        "masks_without_image",
        "csv_rows_without_image",
        "images_without_csv_row",
        "unreadable",
    ):
        if report[key]:
            more = " ..." if len(report[key]) > 5 else ""
            print(f"  {len(report[key])} {key.replace('_', ' ')}: {', '.join(report[key][:5])}{more}")
    print(f"report {report_path}")
    return 0


def _add_radiomics(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "radiomics",
        help="extract pyradiomics features of every row of a cohort, fanned out on Ray",
        description=(
            "Extract radiomics features (pyradiomics, settings in data_contracts/radiomics/) for every "
            "row of a cohort Parquet, several cases per Ray task over all cores of a local cluster, or "
            "of the cluster named by RAY_ADDRESS. Writes one row per input row in input order: every "
            "feature column always (nulls when a case fails), status, error, settings hash; package "
            "versions and git revision in the Parquet metadata. A failing case never stops the run."
        ),
    )
    p.add_argument("cohort", type=Path, help="cohort Parquet (validated rows)")
    p.add_argument("--out", type=Path, default=Path("data/features/radiomics.parquet"), help="feature Parquet")
    p.add_argument("--settings", type=Path, help="pyradiomics parameter file (default: the contract's)")
    p.add_argument("--mask-column", default="mask_png", help="mask_png (reader 1) or mask_reader2_png")
    p.add_argument("--cases-per-task", type=int, default=4, help="cases per Ray task (amortises overhead)")
    p.set_defaults(run=_run_radiomics)


def _run_radiomics(args: argparse.Namespace) -> int:
    import time

    from sonorisk.contracts.validate import open_cohort
    from sonorisk.radiomics.fanout import extract_with_ray, write_feature_table
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
            progress=sys.stderr.isatty(),
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
        help="train the deep-learning zoo (ResNet34, ViT, ResNet34-into-ViT) and select the best",
        description=(
            "Train every architecture of the zoo on the development centre's training split, stop early "
            "on internal-validation AUC, select the best by that AUC, and re-train the winner k times for "
            "out-of-fold DL Scores of the training patients (so fusion never sees a score from a model "
            "trained on that patient). Writes the winner as safetensors + a model card, the out-of-fold "
            "scores, per-model AUCs with 95 % DeLong CIs and training histories. Settings: the dl_train "
            "section of --params; the options below override it. Deterministic on CPU for a seed."
        ),
    )
    p.add_argument("cohorts", type=Path, nargs="+", help="validated cohort Parquet file(s)")
    p.add_argument("--split", type=Path, default=Path("data/splits/split.parquet"), help="split Parquet")
    p.add_argument("--params", type=Path, default=Path("params.yaml"), help="YAML with a dl_train section")
    p.add_argument("--profile", help="parameter profile: cpu (small crops, few epochs) or gpu (full resolution)")
    p.add_argument("--models", help="comma-separated subset of the zoo, e.g. resnet34_vit")
    p.add_argument("--seed", type=int, help="training seed")
    p.add_argument(
        "--init-weights",
        type=Path,
        help="local .safetensors to start from (e.g. ImageNet ResNet34); tensors are matched by name and shape",
    )
    p.add_argument("--out", type=Path, default=Path("models/deep"), help="model folder (weights + card)")
    p.add_argument("--oof", type=Path, default=Path("data/scores/dl_oof.parquet"), help="out-of-fold scores")
    p.add_argument("--metrics", type=Path, default=Path("reports/metrics/deep.json"), help="metrics JSON")
    p.set_defaults(run=_run_dl_train)


def _run_dl_train(args: argparse.Namespace) -> int:
    import yaml

    from sonorisk.deep.jobs import TrainOutputs, train_job

    if not args.params.exists():
        raise FileNotFoundError(f"{args.params} does not exist (pass --params with a dl_train section)")
    params = dict(yaml.safe_load(args.params.read_text())["dl_train"])
    if args.profile:
        if args.profile not in params["profiles"]:
            raise ValueError(f"--profile {args.profile}: known profiles are {', '.join(params['profiles'])}")
        params["profile"] = args.profile
    if args.models:
        wanted = [m.strip() for m in args.models.split(",") if m.strip()]
        unknown = [m for m in wanted if m not in params["models"]]
        if unknown:
            raise ValueError(f"--models: {', '.join(unknown)} not in the zoo ({', '.join(params['models'])})")
        params["models"] = {m: params["models"][m] for m in wanted}
    if args.seed is not None:
        params["seed"] = args.seed
    if args.init_weights:
        params["init_weights"] = str(args.init_weights)
    outputs = TrainOutputs(args.out, args.oof, args.metrics, args.metrics.with_name("deep_history.json"))
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
    p.add_argument("--model", type=Path, default=Path("models/deep"), help="model folder written by dl-train")
    p.add_argument("--out", type=Path, default=Path("data/scores/dl.parquet"), help="output Parquet file")
    p.add_argument("--batch-size", type=int, default=64, help="images per model call (default 64)")
    p.add_argument(
        "--actors",
        type=int,
        help=(
            "scoring actors (default: one per GPU; without GPUs one single-threaded actor per CPU, as many "
            "as memory allows; fewer actors share the cores' threads and use less memory)"
        ),
    )
    p.set_defaults(run=_run_dl_score)


def _run_dl_score(args: argparse.Namespace) -> int:
    from sonorisk.deep.jobs import score_job
    from sonorisk.runtime import describe_target

    if args.batch_size < 1:
        raise ValueError("--batch-size must be at least 1")
    print(f"dl-score on {describe_target()} with {args.model}")
    summary = score_job(args.cohorts, args.model, args.out, args.batch_size, args.actors)
    print(
        f"wrote {args.out}: {summary['rows']} rows, {summary['scored']} scored, {summary['unscorable']} "
        f"unscorable (null dl_score, reason in crop_error), {summary['seconds']:.0f} s"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sonorisk",
        description=(
            "SonoRisk: risk of brain metastasis after breast-cancer surgery from the preoperative "
            "ultrasound image, its lesion outline and clinical-pathological fields."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_synth(sub)
    _add_validate(sub)
    _add_ingest(sub)
    _add_radiomics(sub)
    _add_dl_train(sub)
    _add_dl_score(sub)
    from sonorisk.cli_models import add_commands
    from sonorisk.cli_risk import add_commands as add_risk_commands

    add_commands(sub)
    add_risk_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from sonorisk.contracts.reasons import CohortError

    try:
        return int(args.run(args))
    except (CohortError, ValueError, FileNotFoundError) as problem:  # BundleError is a ValueError
        print(f"sonorisk {args.command}: error: {problem}", file=sys.stderr)
        return EXIT_COHORT_PROBLEM
    except ConnectionError as problem:
        print(f"sonorisk {args.command}: error: cannot reach the Ray cluster: {problem}", file=sys.stderr)
        return EXIT_COHORT_PROBLEM


if __name__ == "__main__":
    sys.exit(main())
