"""One writer per risk-table root: a run holds ``<root>/_writer.lock`` from reading the partitions it
may reuse to writing its manifest, so no manifest claims rows another run overwrote.

The lock is a kernel lock (``flock``) on that file, not the file's existence: the kernel releases
it when the holder exits, however it exits (SIGKILL included), so a killed run never leaves a lock
behind. The file also names the holder (run id, pid, host, start), for the one line a waiting or
refused run prints. On NFS, Linux emulates ``flock`` with POSIX locks: it works across clients
where the server supports locking (NFSv4).

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> with writer_lock(root, "run-1", wait=False):
    ...     try:
    ...         with writer_lock(root, "run-2", wait=False):
    ...             pass
    ...     except WriterBusyError as busy:
    ...         print(str(busy).split(" (pid")[0])
    another run writes here: run-1
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = "_writer.lock"


class WriterBusyError(RuntimeError):
    """Another run holds the output root (raised only without waiting)."""


def _holder(handle_path: Path) -> str:
    try:
        info = json.loads(handle_path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another run writes here (holder unknown)"
    return (
        f"another run writes here: {info.get('run_id')} (pid {info.get('pid')} on {info.get('host')}, "
        f"since {info.get('since')})"
    )


@contextmanager
def writer_lock(
    root: Path, run_id: str, wait: bool = True, log: Callable[[str], None] = lambda _: None
) -> Iterator[None]:
    """Hold ``root``'s writer lock for the block.

    Args:
        wait: block until the holder finishes (saying so once through ``log``); False raises at once.

    Raises:
        WriterBusyError: ``wait=False`` and another run holds the lock; the message names it.
    """
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_FILE
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # narrowed by the umask, as every file
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise WriterBusyError(f"{_holder(path)}; {root} takes one writer at a time") from None
            log(f"score: waiting: {_holder(path)}")
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        since = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        info = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(), "since": since}
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(info).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(descriptor, 0)  # no holder named once released; the kernel lock goes with close
    finally:
        os.close(descriptor)
