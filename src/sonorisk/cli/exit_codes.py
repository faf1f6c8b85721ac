"""What a ``sonorisk`` exit status means, for schedulers and scripts: one table, read by ``main``, the
commands' ``--help`` and docs/nightly.md (a test keeps that page's table equal to this one).

Example:
    >>> from sonorisk.bundle import BundleError
    >>> from sonorisk.contracts.reasons import CohortError
    >>> exit_code(CohortError("x.parquet: no such file")), exit_code(BundleError("changed"))
    (5, 6)
"""

from __future__ import annotations

import errno

OK = 0
DEFECT = 1  # an unexpected error: a traceback, to be reported
USAGE = 2  # a bad option, argument, setting or query (argparse uses 2 as well)
BUSY = 3  # another run holds the risk root's writer lock (--no-wait)
REFUSED = 4  # the file lacks patients the partition holds (--mode refuse, the default)
DATA = 5  # the cohort or an input file cannot be used (missing, unreadable, wrong schema, no rows, or
# not what the study needs: a centre without valid rows, a training split with one outcome class)
BUNDLE = 6  # the bundle is missing, changed, incomplete, not a bundle, unsigned or not signed by a trusted key
DRIFT = 7  # --fail-on-drift and a model input drifted (the risks were written)
CLUSTER = 8  # the Ray cluster named by RAY_ADDRESS cannot be reached
OUTPUT = 9  # the output folder cannot be written: read-only, full, gone, not permitted

OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}

MEANINGS = {
    OK: "success (quarantined rows included: they are counted, never lost)",
    DEFECT: "an unexpected error (a traceback: please report it)",
    USAGE: "usage: a bad option, argument, params.yaml setting or SQL query",
    BUSY: "busy: another run is writing to the risk root (only with --no-wait)",
    REFUSED: "refused: the file lacks patients the risk table holds for its cohort id (see --mode)",
    DATA: "data: the cohort or an input file cannot be used (missing, unreadable, wrong schema, no rows, one "
    "outcome class)",
    BUNDLE: "bundle: missing, changed, incomplete, unsigned or signed by a key not trusted, or built for a newer "
    "risk-table contract",
    DRIFT: "drift: a model input drifted and --fail-on-drift was given (the risks were written)",
    CLUSTER: "cluster: the Ray cluster in RAY_ADDRESS cannot be reached",
    OUTPUT: "output: the risk root or output folder cannot be written (read-only, disk full, gone, not permitted); "
    "what was there is left as it was",
}


def exit_code(problem: BaseException) -> int:
    """The status a command ends with when ``problem`` stops it (DEFECT for anything unforeseen)."""
    # Imported here: `sonorisk --help` must not load pyarrow and the models' libraries.
    from sonorisk.bundle import BundleError
    from sonorisk.contracts.reasons import CohortError
    from sonorisk.gates import StudyError
    from sonorisk.reproducibility import ProfileError
    from sonorisk.risk.incremental import UndeliveredRowsError
    from sonorisk.risk.writer_lock import WriterBusyError
    from sonorisk.writable import OutputError

    if isinstance(problem, OutputError) or (
        isinstance(problem, OSError) and (problem.errno in OUTPUT_ERRNOS or "No space left" in str(problem))
    ):
        return OUTPUT
    kinds: tuple[tuple[type[BaseException], int], ...] = (
        (BundleError, BUNDLE),
        (CohortError, DATA),
        (StudyError, DATA),
        (FileNotFoundError, DATA),
        (WriterBusyError, BUSY),
        (UndeliveredRowsError, REFUSED),
        (ConnectionError, CLUSTER),
        (ProfileError, USAGE),
        (ValueError, USAGE),
    )
    for kind, code in kinds:
        if isinstance(problem, kind):
            return code
    return DEFECT


def epilog() -> str:
    """The table as ``--help`` shows it."""
    names = ("success", "defect", "usage", "busy", "refused", "data", "bundle", "drift", "cluster", "output")
    return "Exit status: " + ", ".join(f"{code} {name}" for code, name in zip(MEANINGS, names, strict=True))
