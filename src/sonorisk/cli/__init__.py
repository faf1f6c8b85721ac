"""The ``sonorisk`` command: one sub-command per job a hospital data team runs, by topic: cohorts
(``cli/cohorts.py``), features and deep learning (``cli/features.py``), models and evaluation
(``cli/models.py``), nightly scoring and queries (``cli/risk.py``).

Heavy libraries are imported inside each command so ``sonorisk --help`` answers at once. A problem
the user can act on (a bad option, an unusable cohort, a changed bundle, a busy risk root) ends with a
one-line message on stderr and its own exit status (``cli/exit_codes.py``), never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from sonorisk.cli import bundles, cohorts, exit_codes, features, models, risk
from sonorisk.reproducibility import PROFILE_VARIABLE, ProfileError, apply_profile


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
            "one vendor's such hosts; Intel and AMD CPUs still differ in the DL weights). Run manifests "
            "and reports record it; see docs/reproducibility.md. " + exit_codes.epilog() + " (docs/nightly.md)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for topic in (cohorts, features, models, risk, bundles):
        topic.add_commands(sub)
    for command in sub.choices.values():  # every --help shows each option's default
        command.formatter_class = _DefaultsShown
    return parser


class _DefaultsShown(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's "(default: X)" after each option's help, but not for an option without one (None)
    or a flag that is off (False), where it says nothing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False):
            return action.help or ""
        return super()._get_help_string(action) or ""


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("sonorisk")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # a usage error exits 2 here (argparse)
    try:
        apply_profile(os.environ.get(PROFILE_VARIABLE, "fast"))
    except ProfileError as problem:
        print(f"sonorisk {args.command}: error: {problem}", file=sys.stderr)
        return exit_codes.USAGE
    try:
        return int(args.run(args))
    except Exception as problem:  # classified; anything unforeseen is re-raised with its traceback
        code = exit_codes.exit_code(problem)
        if code == exit_codes.DEFECT:
            raise  # not a problem the user can act on: the traceback is what gets reported
        print(f"sonorisk {args.command}: {_label(code)}: {_one_line(problem)}", file=sys.stderr)
        return code


def _label(code: int) -> str:
    """The word before the message: ``error`` for usage, data and bundle problems, else the code's name."""
    return {exit_codes.BUSY: "busy", exit_codes.REFUSED: "refused", exit_codes.CLUSTER: "error: cannot reach "
            "the Ray cluster"}.get(code, "error")  # fmt: skip


def _one_line(problem: BaseException) -> str:
    return " ".join(str(problem).split()) or type(problem).__name__
