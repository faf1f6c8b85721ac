"""Least privilege for what commands write: risk roots, partitions, quarantine, run records and
exports carry patient data, so they are created owner/group-only (files 0640, folders 0750) by
narrowing the process umask with ``--umask`` (default 027) for the command's duration; a stricter
umask the process already has stays (a mode is never wider than the umask allows). docs/nightly.md
says how to let an analysts' group read them.

Example:
    >>> import os
    >>> before = os.umask(0o022); _ = os.umask(before)
    >>> with restricted_umask(0o027):
    ...     oct(os.umask(0o027))
    '0o27'
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT_UMASK = 0o027


def _octal(text: str) -> int:
    try:
        value = int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an octal umask such as 027") from None
    if not 0 <= value <= 0o777:
        raise argparse.ArgumentTypeError(f"{text!r} is not an octal umask such as 027")
    return value


def add_umask(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--umask",
        type=_octal,
        default=DEFAULT_UMASK,
        help="permission bits withheld from every file and folder written (octal; default 027: files 0640, "
        "folders 0750, nothing for others), added to the process umask, never loosening it",
    )


@contextmanager
def restricted_umask(mask: int) -> Iterator[None]:
    """The process umask widened by ``mask`` while the block runs, then restored."""
    old = os.umask(0)
    os.umask(old | mask)
    try:
        yield
    finally:
        os.umask(old)
