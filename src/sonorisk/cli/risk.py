"""``sonorisk score`` and ``sonorisk query``: nightly scoring into risk tables, and SQL over them."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from sonorisk import paths

EXIT_WRITER_BUSY = 3  # another run holds the output root (--no-wait)


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="score a new cohort with the frozen model bundle into a risk-table partition",
        description=(
            "validate -> radiomics -> DL Score -> fusion with the frozen bundle -> risk table. Writes "
            "OUT/cohort_id=<id>/risk.parquet atomically (a crash leaves the old partition or the new one), "
            "quarantined rows with every reason to OUT/_quarantine/cohort_id=<id>/, and a run manifest to "
            "OUT/_runs/<run_id>.json (counts in / scored / quarantined / cached, stage times, hashes). "
            "Re-scoring replaces the partition; rows whose data, bundle and settings are unchanged keep their "
            "scores without radiomics or DL. Exit 0 even with quarantined rows; exit 2 with a one-line "
            "reason when the cohort or the bundle is unusable (missing file, wrong schema, changed bundle). "
            "One run writes to an --out at a time: a second waits (or, with --no-wait, exits 3 naming the "
            "first); a killed run leaves no lock behind. Uses the Ray cluster named by RAY_ADDRESS, else a local one."
        ),
    )
    p.add_argument("--cohort", type=Path, required=True, help="cohort Parquet (labels not needed)")
    p.add_argument("--bundle", type=Path, default=paths.BUNDLE_DIR, help="model bundle (dvc repro builds it)")
    p.add_argument("--out", type=Path, default=paths.RISK_ROOT, help="risk-table root folder")
    p.add_argument("--run-date", type=dt.date.fromisoformat, help="judge 'not in the future' against this date")
    p.add_argument("--batch-size", type=int, default=64, help="images per DL model call")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (logs, schedulers)")
    p.add_argument(
        "--no-wait",
        action="store_true",
        help=f"exit {EXIT_WRITER_BUSY} at once, naming the other run, when another run is writing to --out "
        "(default: wait for it; one writer per risk root)",
    )
    p.set_defaults(run=_run_score)

    q = sub.add_parser(
        "query",
        help="SQL over every risk-table partition (polars)",
        description=(
            "Run SQL through polars over all partitions under --risk: table `risk` (one row per scored "
            "patient), `quarantine` (held rows and reasons) and `runs` (one row per scoring run). "
            'Example: sonorisk query "SELECT cohort_id, risk_group, COUNT(*) AS n FROM risk GROUP BY 1, 2"'
        ),
    )
    q.add_argument("sql", help="the query")
    q.add_argument("--risk", type=Path, default=paths.RISK_ROOT, help="risk-table root folder")
    q.add_argument("--csv", type=Path, help="also write the result as CSV")
    q.add_argument("--max-rows", type=int, default=40, help="rows to print (default 40)")
    q.set_defaults(run=_run_query)


def _run_score(args: argparse.Namespace) -> int:
    from sonorisk.risk.scoring import score_cohort
    from sonorisk.risk.writer_lock import WriterBusyError

    try:
        manifest = score_cohort(
            args.cohort,
            args.bundle,
            args.out,
            args.run_date,
            args.batch_size,
            progress=not args.no_progress,
            wait=not args.no_wait,
        )
    except WriterBusyError as busy:
        print(f"sonorisk score: busy: {busy}", file=sys.stderr)
        return EXIT_WRITER_BUSY
    counts = manifest["counts"]
    print(
        f"score: run {manifest['run_id']}: {counts['rows_in']} rows in = {counts['scored']} scored "
        f"({counts['cached']} unchanged, reused) + {counts['quarantined']} quarantined; "
        f"{manifest['seconds']['total']:.1f} s; partitions " + ", ".join(manifest["partitions"].values())
    )
    return 0


def _run_query(args: argparse.Namespace) -> int:
    import polars as pl

    from sonorisk.risk.query import run_query

    result = run_query(args.sql, args.risk)
    with pl.Config(tbl_rows=args.max_rows, tbl_cols=-1, fmt_str_lengths=40):
        print(result)
    if args.csv:
        result.write_csv(args.csv)
        print(f"wrote {args.csv}", file=sys.stderr)
    return 0
