"""One convention for progress across commands: a bar on a terminal, none in a log or a pipe, and
``--quiet`` to turn it off anywhere."""

from __future__ import annotations

import argparse
import sys


def add_quiet(parser: argparse.ArgumentParser, *aliases: str) -> None:
    parser.add_argument(
        "--quiet", *aliases, dest="quiet", action="store_true", help="no progress bar (one is shown on a terminal only)"
    )


def show_progress(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()
