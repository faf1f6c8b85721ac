"""The one way the project writes a file: readers see the old file or the complete new one, never a
torn one, and a completed write survives a power cut.

A temporary file beside the target is written, flushed to disk (fsync), renamed onto the target
(atomic on POSIX) and the folder entry flushed too. A write that fails or is killed leaves the
target as it was; its temporary file is removed, or (after SIGKILL) swept by the next write.

Example:
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as partial:
    ...     _ = partial.write_text("done")
    >>> target.read_text()
    'done'
    >>> write_json(target.with_suffix(".json"), {"b": 1, "a": [2]}).read_text()
    '{\\n  "a": [\\n    2\\n  ],\\n  "b": 1\\n}\\n'
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def fsync_path(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(target: Path, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is fsynced and renamed onto
    ``target``; on any exception (or interrupt) it is removed and ``target`` is left as it was.

    Args:
        target: the file to write.
        keep_suffix: end the temporary name with the target's suffix, for writers that choose the
            format by it (xgboost's ``save_model``, matplotlib's ``savefig``).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*.tmp*"):
        stale.unlink(missing_ok=True)
    partial = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.tmp{target.suffix if keep_suffix else ''}"
    try:
        yield partial
        fsync_path(partial)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    fsync_path(target.parent)


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield an empty staging folder beside ``target``; on success every file in it is fsynced and
    the folder takes ``target``'s place (the old one is renamed aside, then removed), so a reader
    sees the old folder or the complete new one. On failure the staging folder is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.staging"
    staging.mkdir()
    try:
        yield staging
        for path in sorted(staging.rglob("*"), reverse=True):
            fsync_path(path)
        fsync_path(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.old"
    if target.exists():
        target.rename(old)
    staging.rename(target)
    fsync_path(target.parent)
    shutil.rmtree(old, ignore_errors=True)


def write_bytes(path: Path, data: bytes) -> Path:
    with atomic_path(path) as partial:
        partial.write_bytes(data)
    return path


def write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as partial:
        partial.write_text(text)
    return path


def write_json(path: Path, content: Any, sort_keys: bool = True, default: Any = None) -> Path:
    """Indented JSON with a final newline (the layout of every JSON file the project writes)."""
    return write_text(path, json.dumps(content, indent=2, sort_keys=sort_keys, default=default) + "\n")


def write_parquet(table: Any, path: Path, compression: str = "zstd") -> Path:
    """A ``pyarrow.Table`` (pyarrow's writer) or a ``polars.DataFrame`` (polars' writer) as one
    Parquet file; each library keeps its own writer so the bytes do not change with this helper."""
    with atomic_path(path) as partial:
        if hasattr(table, "write_parquet"):
            table.write_parquet(partial, compression=compression)
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, partial, compression=compression)
    return path
