"""``sonorisk synth``, ``validate`` and ``ingest``: cohorts in, through the data contracts."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
from pathlib import Path

from sonorisk import paths
from sonorisk.cli.progress import add_quiet, show_progress


def add_commands(sub: argparse._SubParsersAction) -> None:
    _add_synth(sub)
    _add_validate(sub)
    _add_ingest(sub)


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
    p.add_argument("--seed", type=int, default=2026, help="root seed")
    p.add_argument("--no-labels", action="store_true", help="write null outcomes: a new cohort to score")
    p.add_argument("--cohort-id", help="cohort_id column value (default synthetic-<seed>)")
    p.add_argument("--out", type=Path, required=True, help="cohort Parquet path (a study's are written by dvc repro)")
    p.add_argument("--truth", type=Path, help="truth Parquet path (default: beside --out, *.truth.parquet)")
    p.add_argument("--no-reader2", action="store_true", help="skip the second reader's masks")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (results do not depend on it)")
    p.add_argument("--preview", action="store_true", help="also write a 16-case montage per centre")
    p.add_argument("--preview-dir", type=Path, default=paths.PREVIEW_DIR, help="where montages go")
    add_quiet(p)
    p.set_defaults(run=_run_synth)


def _run_synth(args: argparse.Namespace) -> int:
    from sonorisk.cohort.preview import write_previews
    from sonorisk.synthetic.centres import parse_centres
    from sonorisk.synthetic.generator import OUTCOME, PREVIEW_MARKS, SynthConfig, write_synthetic_cohort

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
    summary = write_synthetic_cohort(config, args.out, truth, workers=args.workers, progress=show_progress(args))
    centres = ", ".join(f"{c} {n}" for c, n in summary.per_centre.items())
    print(f"wrote {args.out}: {summary.n} patients ({centres}), cohort_id {config.cohort_id}")
    print(
        f"brain metastasis prevalence {summary.prevalence:.1%}"
        + ("" if config.labels else " (labels withheld; kept in the truth file)")
    )
    print(f"oracle AUC {summary.oracle_auc:.3f} (true probability vs outcome: the best any model can reach here)")
    print(f"truth file {truth} (never a model input)")
    if args.preview:
        for path in write_previews(args.out, args.preview_dir, OUTCOME, PREVIEW_MARKS):
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
            "with quarantined rows; exit 5 with a one-line reason when the cohort as a whole is "
            "unusable (missing file or column, wrong type, no rows)."
        ),
    )
    p.add_argument("cohort", type=Path, nargs="?", help="cohort Parquet (or --cohort, as in `sonorisk score`)")
    p.add_argument("--cohort", dest="cohort_option", type=Path, metavar="COHORT", help="cohort Parquet")
    p.add_argument("--valid", type=Path, help="valid rows (default data/validated/<name>.parquet)")
    p.add_argument("--quarantine", type=Path, help="quarantined rows (default data/quarantine/<name>.parquet)")
    p.add_argument("--summary", type=Path, help="JSON summary (default reports/validation/<name>/summary.json)")
    p.add_argument("--docs", type=Path, help="GE Data Docs folder (default reports/validation/<name>/data_docs)")
    p.add_argument("--run-date", type=dt.date.fromisoformat, help="judge 'not in the future' against this date")
    add_quiet(p)
    p.set_defaults(run=_run_validate)


def _run_validate(args: argparse.Namespace) -> int:
    from sonorisk.contracts.validate import validate_cohort, write_summary

    if (args.cohort is None) == (args.cohort_option is None):
        raise ValueError("name the cohort once: `sonorisk validate COHORT` or `sonorisk validate --cohort COHORT`")
    args.cohort = args.cohort or args.cohort_option
    name = args.cohort.name.removesuffix(".parquet")
    valid = args.valid or paths.VALIDATED_DIR / f"{name}.parquet"
    quarantine = args.quarantine or paths.QUARANTINE_DIR / f"{name}.parquet"
    summary_path = args.summary or paths.validation_dir(name) / "summary.json"
    docs = args.docs or paths.validation_dir(name) / "data_docs"
    summary = validate_cohort(args.cohort, valid, quarantine, docs, args.run_date, progress=show_progress(args))
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
    p.add_argument(
        "--masks", type=Path, help="folder of masks (default: the images' folder, masks named by --mask-suffix)"
    )
    p.add_argument(
        "--mask-suffix",
        help="masks are NAME<suffix>.png (several outlines: NAME<suffix>_1.png, ...) beside NAME.png; "
        "overrides the mapping's mask pattern (e.g. _mask)",
    )
    p.add_argument(
        "--ids",
        choices=("map", "refuse"),
        default="map",
        help="IDs that break the contract's rule [A-Za-z0-9._-]{1,64}: map them deterministically (the original "
        "kept in column source_id, the mapping in the report) or refuse the cohort (default map)",
    )
    p.add_argument("--clinical", type=Path, help="clinical CSV, one row per image (not needed with --class-folders)")
    p.add_argument("--mapping", type=Path, help="YAML mapping of CSV columns and file names (needed with --clinical)")
    p.add_argument(
        "--class-folders",
        metavar="OUTCOME",
        help="the outcome column OUTCOME comes from sub-folders of --images (e.g. benign/, malignant/); "
        "no CSV needed, one row per image",
    )
    p.add_argument(
        "--positive", action="append", default=[], help="a class sub-folder that is positive (repeat for several)"
    )
    p.add_argument("--out", type=Path, required=True, help="cohort Parquet to write")
    p.add_argument("--pixel-spacing", type=float, help="mm per pixel for images that carry none (PNG/JPEG/BMP)")
    p.add_argument("--cohort-id", help="cohort_id value (default: the mapping's, else the output name)")
    p.add_argument("--center", help="center value for every row (overrides the mapping's `center:`)")
    p.add_argument("--report", type=Path, help="JSON ingest report (default: beside --out, *.ingest.json)")
    p.set_defaults(run=_run_ingest)


def _run_ingest(args: argparse.Namespace) -> int:
    from sonorisk.cohort.ingest import ClassFolders, ingest_folder
    from sonorisk.cohort.ingest_mapping import Mapping, load_mapping

    if args.class_folders and not args.positive:
        raise ValueError("--class-folders needs --positive FOLDER (the sub-folder(s) of positive images)")
    if args.mapping:
        mapping = load_mapping(args.mapping, args.mask_suffix)
    elif args.class_folders:
        mapping = Mapping.from_dict({"csv": {"id": "__id__"}}, args.mask_suffix)
    else:
        raise ValueError("--mapping is needed with --clinical (docs/ingest.md)")
    if args.center:
        mapping = dataclasses.replace(mapping, center_value=args.center, center_column=None)
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
        ids=args.ids,
        class_folders=ClassFolders(args.class_folders, args.positive) if args.class_folders else None,
    )
    print(
        f"wrote {args.out}: {report['rows_written']} rows from {report['csv_rows']} CSV rows; "
        f"{report['images_found']} images, {report['masks_found']} masks"
        + (" (one folder)" if report["one_folder"] else "")
    )
    for key in (
        "images_without_mask",
        "masks_without_image",
        "csv_rows_without_image",
        "images_without_csv_row",
        "unrecognised_files",
        "unreadable",
    ):
        if report[key]:
            more = " ..." if len(report[key]) > 3 else ""
            print(f"  {len(report[key])} {key.replace('_', ' ')}, e.g. {', '.join(report[key][:3])}{more}")
    if report["ids_mapped"]:
        shown = ", ".join(f"{a!r} -> {b}" for a, b in list(report["ids_mapped"].items())[:3])
        print(
            f"  {len(report['ids_mapped'])} IDs mapped onto the contract's rule, e.g. {shown} (originals in source_id)"
        )
    print(f"report {report_path}")
    return 0
