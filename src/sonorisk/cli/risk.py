"""``sonorisk score``, ``sonorisk runs`` and ``sonorisk query``: nightly scoring into risk tables,
what each run did (counts, drift), and SQL over the tables."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sonorisk import paths
from sonorisk.cli import exit_codes
from sonorisk.cli.permissions import add_umask, restricted_umask
from sonorisk.cli.progress import add_quiet, show_progress

if TYPE_CHECKING:
    from sonorisk.signing import Trust

RISK_ROOT_HELP = "risk-table root folder (one name in every command; --out is the same, kept for old scripts)"


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="score a new cohort with the frozen model bundle into a risk-table partition",
        description=(
            "validate -> radiomics -> DL Score -> fusion with the frozen bundle -> risk table. Writes "
            "RISK/cohort_id=<id>/risk.parquet atomically (a crash leaves the old partition or the new one), "
            "quarantined rows with every reason to RISK/_quarantine/cohort_id=<id>/, and a run manifest to "
            "RISK/_runs/<run_id>.json (counts in / scored / quarantined / cached, stage times, hashes). "
            "Re-scoring a cohort id rewrites its partition; rows whose data, bundle and settings are unchanged "
            "keep their scores without radiomics or DL; patients the partition holds but the file does not "
            f"deliver are never dropped silently (--mode; exit {exit_codes.REFUSED} by default). The cohort is "
            "validated under the contracts the bundle carries: the bundle is all a scoring machine needs. "
            f"Exit 0 even with quarantined rows; {exit_codes.DATA} when the cohort is unusable (missing file, "
            f"wrong schema), {exit_codes.BUNDLE} when the bundle is (missing, changed, unsigned, signed by a key "
            "not trusted, or changed while the run read it), each with one line. "
            f"One run writes to a --risk root at a time: a second waits (or, with --no-wait, exits "
            f"{exit_codes.BUSY} naming the first); a killed run leaves no lock behind. "
            "Radiomics extracts only the features the bundle's "
            "models read (same values as a full extraction; --extraction full to extract everything). Each "
            "run records the population stability index (PSI) of every model input against its training "
            "distribution and writes RISK/_runs/<run_id>.html (`sonorisk runs show RUN_ID` prints it). "
            "Uses the Ray cluster named by RAY_ADDRESS, else a local one."
        ),
    )
    p.add_argument("--cohort", type=Path, required=True, help="cohort Parquet (labels not needed)")
    p.add_argument("--bundle", type=Path, default=paths.BUNDLE_DIR, help="model bundle (dvc repro builds it)")
    p.add_argument("--risk", "--out", dest="risk", type=Path, default=paths.RISK_ROOT, help=RISK_ROOT_HELP)
    p.add_argument("--run-date", type=dt.date.fromisoformat, help="judge 'not in the future' against this date")
    p.add_argument("--batch-size", type=int, default=64, help="images per DL model call")
    add_quiet(p, "--no-progress")
    p.add_argument(
        "--mode",
        choices=("refuse", "append", "replace"),
        default="refuse",
        help="when the partition holds patients this file does not deliver: refuse (exit "
        f"{exit_codes.REFUSED}, nothing written), append (keep them) or replace (drop them; the old partition "
        "is kept under RISK/_history/cohort_id=<id>/<run_id>.parquet, table `history` in `sonorisk query`)",
    )
    p.add_argument(
        "--no-wait",
        action="store_true",
        help=f"exit {exit_codes.BUSY} at once, naming the other run, when another run is writing to --risk "
        "(default: wait for it; one writer per risk root)",
    )
    p.add_argument(
        "--extraction",
        choices=("bundle", "full"),
        default="bundle",
        help="bundle: extract only the radiomics features the frozen models read (default); full: every "
        "feature of the bundle's settings (same values, several times slower)",
    )
    p.add_argument(
        "--psi-threshold",
        type=float,
        default=0.25,
        help="flag a model input whose PSI against the training distribution reaches this",
    )
    p.add_argument(
        "--drift-min-rows",
        type=int,
        default=100,
        help="flag drift only when the run scored at least this many rows: on fewer, PSI measures sampling noise",
    )
    p.add_argument(
        "--trusted-keys",
        type=Path,
        help="public keys the bundle's signature must verify against: a PEM file with one or more keys, or a "
        "folder of *.pub files (default: $SONORISK_TRUSTED_KEYS). An unsigned or wrongly signed bundle is "
        f"refused before any model is read (exit {exit_codes.BUNDLE})",
    )
    p.add_argument(
        "--allow-unsigned",
        action="store_true",
        help="score with a bundle whose signature is missing or does not verify; the run manifest records it",
    )
    p.add_argument(
        "--fail-on-drift",
        action="store_true",
        help=f"exit {exit_codes.DRIFT} when a model input is flagged as drifted (the risks are written all the "
        "same): for schedulers that should page someone; default: name the drifted inputs on stderr, exit 0",
    )
    add_umask(p)
    p.set_defaults(run=_run_score)

    r = sub.add_parser(
        "runs",
        help="list scoring runs, show one run's counts, drift and estimated performance, or realise it",
        description=(
            "`sonorisk runs list`: every run under --risk, newest last, with its counts, drifted inputs, "
            "estimated AUC and the latest realised AUC. "
            "`sonorisk runs show RUN_ID`: one run's counts, the PSI of every model input against the "
            "training distribution (drifted ones marked), the share of quarantined rows by rule and the "
            "estimated performance (CBPE: AUC, event rate, Brier from the calibrated risks, per centre): the "
            "same as RISK/_runs/<run_id>.html. A unique prefix of RUN_ID is enough. "
            "`sonorisk runs realise --labels FILE`: once outcomes are known, the realised AUC (DeLong 95 % CI), "
            "event rate, Brier, calibration and, with follow-up, Uno's C and td-AUC per run and centre, beside "
            "the estimates; appended to RISK/_realised/realised.parquet (table `realised` in `sonorisk query`)."
        ),
    )
    r.add_argument("action", choices=("list", "show", "realise"), help="list every run, show one, or realise them")
    r.add_argument("run_id", nargs="?", help="the run to show (from `runs list` or the score output)")
    r.add_argument("--risk", "--out", dest="risk", type=Path, default=paths.RISK_ROOT, help=RISK_ROOT_HELP)
    r.add_argument(
        "--labels",
        type=Path,
        help="realise: Parquet or CSV with patient_id (and cohort_id), the outcome and, if known, the follow-up",
    )
    r.add_argument(
        "--outcome", help="realise: the labels' outcome column (default: the study's, as the runs record it)"
    )
    r.add_argument(
        "--followup",
        help="realise: the labels' follow-up column in months (default: the study's, where the file has it)",
    )
    add_umask(r)
    r.set_defaults(run=_run_runs)

    q = sub.add_parser(
        "query",
        help="SQL over every risk-table partition (polars)",
        description=(
            "Run SQL through polars over all partitions under --risk: table `risk` (one row per scored "
            "image), `quarantine` (held rows and reasons), `runs` (one typed row per scoring run), `drift` "
            "(one row per run and model input: PSI, flagged) and `history` (partitions --mode replace "
            "replaced). Columns, scales and recipes: docs/risk-tables.md. A failing query is one line, exit 2. "
            'Example: sonorisk query "SELECT cohort_id, risk_group, COUNT(*) AS n FROM risk GROUP BY 1, 2"'
        ),
    )
    q.add_argument("sql", help="the query")
    q.add_argument("--risk", type=Path, default=paths.RISK_ROOT, help=RISK_ROOT_HELP)
    q.add_argument(
        "--format",
        choices=("table", "csv", "json", "parquet"),
        default="table",
        help="what goes to stdout: a printed table, or the whole result as CSV, JSON lines or Parquet",
    )
    q.add_argument("--csv", type=Path, help="also write the whole result as CSV to this file")
    q.add_argument("--max-rows", type=int, default=40, help="rows the printed table shows")
    q.add_argument(
        "--pseudonymise",
        metavar="KEYFILE",
        type=Path,
        help="read the tables as `sonorisk export` writes them: patient and person IDs replaced by keyed "
        "pseudonyms (HMAC-SHA-256 under KEYFILE), surgery month for the date, no row hash, no quarantined value",
    )
    add_umask(q)
    q.set_defaults(run=_run_query)

    e = sub.add_parser(
        "export",
        help="a pseudonymised copy of the risk tables for analysts",
        description=(
            "Write OUT/risk.parquet, OUT/quarantine.parquet and OUT/export.json from every partition under "
            "--risk, with `patient_id` and `person_id` replaced by keyed pseudonyms (psn- and 24 hex digits of "
            "HMAC-SHA-256 under KEYFILE): the same patient gets the same pseudonym on every night and in every "
            "export under one key, another key gives others, and going back needs the key and the source IDs. "
            "Left out: the row hash, the surgery date (its month is kept), and every clinical value and refused "
            "value of quarantined rows (their rules are kept). Make a key once with `sonorisk keys "
            "new-pseudonym KEYFILE`, kept outside the data."
        ),
    )
    e.add_argument("--pseudonymise", metavar="KEYFILE", type=Path, required=True, help="the pseudonymisation key")
    e.add_argument("--risk", type=Path, default=paths.RISK_ROOT, help=RISK_ROOT_HELP)
    e.add_argument("--out", type=Path, required=True, help="the folder to write (created; files replaced)")
    add_umask(e)
    e.set_defaults(run=_run_export)

    m = sub.add_parser(
        "migrate-risk",
        help="rewrite risk-table partitions written under an older contract version as the current one",
        description=(
            "Read every RISK/cohort_id=<id>/risk.parquet, and rewrite each one written under an older risk-table "
            "contract version as the bundle's version (data_contracts/risk/risk_table.yaml, `migrations`): new "
            "columns are added as nulls, no row is dropped, each rewrite is atomic. `sonorisk score` does this "
            "for the partitions it writes; this command does it for all, so analysts' queries see one schema. "
            "Holds the root's writer lock like `sonorisk score`."
        ),
    )
    m.add_argument("--risk", type=Path, default=paths.RISK_ROOT, help=RISK_ROOT_HELP)
    m.add_argument("--bundle", type=Path, default=paths.BUNDLE_DIR, help="bundle whose contract is in force")
    m.set_defaults(run=_run_migrate)


def _run_score(args: argparse.Namespace) -> int:
    from sonorisk.signing import Trust

    with restricted_umask(args.umask):
        manifest = _score(args, Trust.from_options(args.trusted_keys, args.allow_unsigned))
    counts = manifest["counts"]
    signature = manifest["bundle_signature"] or {}
    if not signature.get("verified"):
        print(f"score: bundle NOT verified, scored with --allow-unsigned: {signature.get('why')}", file=sys.stderr)
    print(
        f"score: run {manifest['run_id']}: {counts['rows_in']} rows in = {counts['scored']} scored "
        f"({counts['cached']} unchanged, reused) + {counts['quarantined']} quarantined; "
        f"{manifest['seconds']['total']:.1f} s; partitions " + ", ".join(manifest["partitions"].values())
    )
    drift = manifest["drift"]
    if drift is not None and drift["flagged"]:
        print(
            f"score: drift: {len(drift['flagged'])} inputs at PSI >= {drift['threshold']} "
            f"({', '.join(drift['flagged'][:5])}); see `sonorisk runs show {manifest['run_id']}`",
            file=sys.stderr,
        )
        if args.fail_on_drift:
            return exit_codes.DRIFT
    return exit_codes.OK


def _score(args: argparse.Namespace, trust: Trust) -> dict[str, Any]:
    from sonorisk.risk.scoring import score_cohort

    return score_cohort(
        args.cohort,
        args.bundle,
        args.risk,
        args.run_date,
        args.batch_size,
        progress=show_progress(args),
        wait=not args.no_wait,
        extraction=args.extraction,
        psi_threshold=args.psi_threshold,
        drift_min_rows=args.drift_min_rows,
        mode=args.mode,
        trust=trust,
    )  # refusals (busy, would drop, bad cohort or bundle) end in main with their exit codes


def _run_runs(args: argparse.Namespace) -> int:
    from sonorisk.risk.drift import render_text
    from sonorisk.risk.run_tables import read_manifests, runs_frame

    manifests = read_manifests(args.risk)
    if args.action == "realise":
        with restricted_umask(args.umask):
            return _realise(args, manifests)
    if args.action == "list":
        if not manifests:
            print(f"no runs under {args.risk}")
        realised = _latest_realised(args.risk)
        for run in runs_frame(manifests).iter_rows(named=True):
            cohorts = ",".join(run["cohort_ids"]) or "-"
            estimate = "-" if run["estimated_auc"] is None else f"{run['estimated_auc']:.3f}"
            actual = realised.get(run["run_id"])
            print(
                f"{run['run_id']}  {run['scored_at']:%Y-%m-%d %H:%M}Z  {cohorts}  in {run['rows_in']}  "
                f"scored {run['scored']}  quarantined {run['quarantined']}  drifted {run['n_drifted']}  "
                f"AUC estimated {estimate}  realised {'-' if actual is None else f'{actual:.3f}'}"
            )
        return 0
    if not args.run_id:
        raise ValueError("`runs show` needs a RUN_ID (see `sonorisk runs list`)")
    matches = [m for m in manifests if m["run_id"].startswith(args.run_id)]
    if len(matches) != 1:
        found = "no run" if not matches else f"{len(matches)} runs"
        raise ValueError(f"{found} under {args.risk} starts with {args.run_id!r} (see `sonorisk runs list`)")
    print(render_text(matches[0]))
    return 0


def _realise(args: argparse.Namespace, manifests: list[dict]) -> int:
    import datetime as dt

    import polars as pl

    from sonorisk.risk.realised import realise
    from sonorisk.risk.writer_lock import writer_lock

    if args.labels is None:
        raise ValueError("`runs realise` needs --labels FILE (patient_id, the outcome and, if known, the follow-up)")
    study: dict = next((m["study"] for m in reversed(manifests) if m.get("study")), {})
    outcome = args.outcome or study.get("outcome")
    if not outcome:
        raise ValueError("the runs do not record the study's outcome: pass --outcome COLUMN")
    followup = args.followup or study.get("followup_column")
    by_id = {m["run_id"]: m for m in manifests}
    with writer_lock(args.risk, f"realise-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}", wait=True, log=print):
        result = realise(args.risk, args.labels, by_id, outcome, followup, dt.datetime.now(dt.UTC))
    shown = result.select(
        "run_id", "group", "rows", "events", "auc", "auc_low", "auc_high", "estimated_auc", "prevalence",
        "expected_prevalence", "brier", "calibration_slope", "uno_c",
    )  # fmt: skip
    with pl.Config(tbl_rows=60, tbl_cols=-1, fmt_str_lengths=30, float_precision=3):
        print(shown)
    print(f"realise: {result.height} rows appended to {args.risk}/_realised/realised.parquet")
    return 0


def _latest_realised(root: Path) -> dict[str, float]:
    """Each run's most recent realised AUC over all its rows."""
    from sonorisk.risk.realised import read_history

    history = read_history(root)
    if history is None:
        return {}
    latest = history.filter(history["group"] == "all").sort("realised_at").group_by("run_id").last()
    return {r: a for r, a in zip(latest["run_id"], latest["auc"], strict=True) if a is not None}


def _run_query(args: argparse.Namespace) -> int:
    import polars as pl

    from sonorisk.pseudonym import Pseudonymiser
    from sonorisk.risk.query import run_query

    pseudonymiser = Pseudonymiser.from_file(args.pseudonymise) if args.pseudonymise else None
    result = run_query(args.sql, args.risk, pseudonymiser)
    if args.format == "table":
        with pl.Config(tbl_rows=args.max_rows, tbl_cols=-1, fmt_str_lengths=40):
            print(result)
    elif args.format == "csv":
        sys.stdout.write(result.write_csv())
    elif args.format == "json":
        sys.stdout.write(result.write_ndjson())
    else:
        sys.stdout.flush()
        result.write_parquet(sys.stdout.buffer)
    if args.csv:
        with restricted_umask(args.umask):
            result.write_csv(args.csv)
        print(f"wrote {args.csv}", file=sys.stderr)
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from sonorisk.risk.export import export_pseudonymised

    with restricted_umask(args.umask):
        summary = export_pseudonymised(args.risk, args.pseudonymise, args.out)
    print(
        f"export: {summary['rows']['risk']} risk rows and {summary['rows']['quarantine']} quarantined rows, "
        f"pseudonymised (key fingerprint {summary['key_fingerprint']}), to {args.out}"
    )
    return exit_codes.OK


def _run_migrate(args: argparse.Namespace) -> int:
    import uuid

    from sonorisk.bundle import load_bundle
    from sonorisk.risk.contract import RiskTableContract
    from sonorisk.risk.incremental import migrate_partitions
    from sonorisk.risk.partition import PARTITION_FILE
    from sonorisk.risk.writer_lock import writer_lock

    if not args.risk.is_dir():
        raise FileNotFoundError(f"no risk tables at {args.risk}")
    contract = RiskTableContract.load(load_bundle(args.bundle).path("contracts/risk/risk_table.yaml"))
    cohorts = sorted(p.parent.name.removeprefix("cohort_id=") for p in args.risk.glob(f"cohort_id=*/{PARTITION_FILE}"))
    with writer_lock(args.risk, f"migrate-{uuid.uuid4().hex[:8]}", wait=True, log=print):
        migrated = migrate_partitions(args.risk, cohorts, contract, log=print)
    print(f"migrate-risk: {len(cohorts)} partitions, {len(migrated)} migrated to contract v{contract.version}")
    return 0
