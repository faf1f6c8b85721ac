"""The ``sonorisk`` command: one sub-command per job a hospital data team runs, by topic: cohorts
(``cli/cohorts.py``), features and deep learning (``cli/features.py``), models and evaluation
(``cli/models.py``), nightly scoring and queries (``cli/risk.py``).

Heavy libraries are imported inside each command so ``sonorisk --help`` answers at once.
Cohort-level problems end with a one-line message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from sonorisk.cli import cohorts, features, models, risk
from sonorisk.reproducibility import PROFILE_VARIABLE, ProfileError, apply_profile

EXIT_COHORT_PROBLEM = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sonorisk",
        description=(
            "SonoRisk: risk of brain metastasis after breast-cancer surgery from the preoperative "
            "ultrasound image, its lesion outline and clinical-pathological fields."
        ),
        epilog=(
            "Every command computes under the reproducibility profile SONORISK_PROFILE names: fast "
            "(default, the host's best instruction set) or audit (capped at x86-64-v3: the same bytes on "
            "any such host). Run manifests and reports record it; see docs/reproducibility.md."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for topic in (cohorts, features, models, risk):
        topic.add_commands(sub)
    for command in sub.choices.values():  # every --help shows each option's default
        command.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    return parser


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("sonorisk")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        apply_profile(os.environ.get(PROFILE_VARIABLE, "fast"))
    except ProfileError as problem:
        print(f"sonorisk {args.command}: error: {problem}", file=sys.stderr)
        return EXIT_COHORT_PROBLEM
    from sonorisk.contracts.reasons import CohortError

    try:
        return int(args.run(args))
    except (CohortError, ValueError, FileNotFoundError) as problem:  # BundleError is a ValueError
        print(f"sonorisk {args.command}: error: {problem}", file=sys.stderr)
        return EXIT_COHORT_PROBLEM
    except ConnectionError as problem:
        print(f"sonorisk {args.command}: error: cannot reach the Ray cluster: {problem}", file=sys.stderr)
        return EXIT_COHORT_PROBLEM
