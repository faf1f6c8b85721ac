"""Whether a command can write where it is told to, asked before any work: a read-only, vanished or
forbidden output folder is one line at the start of a night, not a failure after an hour of
radiomics. Disk space cannot be promised ahead; a full disk mid-write is caught where it happens
(``atomic_file.py`` leaves no partial file and the old one in place).

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()) / "risk"
    >>> ensure_writable(root) == root, root.exists()  # asked, not made
    (True, False)
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


class OutputError(OSError):
    """An output folder that cannot be written."""


def ensure_writable(folder: Path) -> Path:
    """``folder``, once a file could be created and removed in it or, while it does not exist yet, in
    the nearest folder above it that does (nothing is left behind either way).

    Raises:
        OutputError: naming the folder and the system's reason.
    """
    existing = next(p for p in (folder.absolute(), *folder.absolute().parents) if p.exists())
    probe = existing / f".sonorisk-write-probe-{uuid.uuid4().hex[:12]}"
    try:
        if not existing.is_dir():
            raise NotADirectoryError(20, f"{existing} is not a folder")
        descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(descriptor)
        probe.unlink()
    except OSError as problem:
        raise OutputError(
            problem.errno, f"cannot write to {folder} ({problem.strerror or problem}); nothing was done"
        ) from None
    return folder
