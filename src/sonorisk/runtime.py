"""Ray: connect to the cluster named by ``RAY_ADDRESS``, else start a local one sized to the machine.

Example:
    >>> describe_target({"RAY_ADDRESS": "ray://head:10001"})
    'existing cluster at ray://head:10001'
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from sonorisk.reproducibility import profile_variables


def describe_target(environ: Mapping[str, str] = os.environ) -> str:
    address = environ.get("RAY_ADDRESS")
    return f"existing cluster at {address}" if address else f"local cluster ({os.cpu_count()} CPUs)"


def object_store_bytes(environ: Mapping[str, str] = os.environ) -> int:
    """Size of a local cluster's object store: ``SONORISK_OBJECT_STORE_MB`` (default 1024 MB).

    Example:
        >>> object_store_bytes({"SONORISK_OBJECT_STORE_MB": "256"})
        268435456
    """
    return int(environ.get("SONORISK_OBJECT_STORE_MB", "1024")) * 1024**2


def _start(num_cpus: int | None) -> None:
    import ray

    # A batch job needs no metrics exporter or usage reporting; on a 2-core machine their background
    # work costs a measurable share of the CPU the extraction wants.
    os.environ.setdefault("RAY_enable_metrics_collection", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if os.environ.get("RAY_ADDRESS"):
        check_reachable(os.environ["RAY_ADDRESS"])
        # A local cluster's workers inherit this process's environment; a remote one's get the
        # reproducibility profile through the runtime environment.
        ray.init(
            address=os.environ["RAY_ADDRESS"],
            log_to_driver=False,
            runtime_env={"env_vars": profile_variables()},
        )
    else:
        # address="local": always a fresh local instance. Without it ray.init() joins any cluster a
        # `ray start` left on this machine (and fails, since num_cpus cannot be set on one).
        # A bounded object store: Ray's default (30 % of RAM) would let Ray Data queue a whole cohort's
        # decoded crops in shared memory; past this size objects spill to disk instead, so a run's
        # memory does not grow with the cohort.
        ray.init(
            address="local",
            num_cpus=num_cpus or os.cpu_count(),
            object_store_memory=object_store_bytes(),
            include_dashboard=False,
            log_to_driver=False,
        )


def check_reachable(address: str, timeout_s: float = 10.0) -> None:
    """Fail at once, in one line, when a ``host:port`` cluster address does not answer: ray.init()
    would retry for minutes, and a nightly job should report an unreachable cluster, not hang.

    Raises:
        ConnectionError: nothing listens at ``address``.
    """
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as problem:
        raise ConnectionError(f"nothing answers at RAY_ADDRESS={address} ({problem.strerror or problem})") from None


@contextmanager
def ray_session(num_cpus: int | None = None, defer: bool = False) -> Iterator[Callable[[], None]]:
    """Use Ray for the duration of a block.

    Reuses an already initialised Ray (tests, notebooks); connects to ``RAY_ADDRESS`` when set;
    otherwise starts a local cluster with ``num_cpus`` (default: all), shut down on exit.

    Yields a function that makes sure Ray is up (idempotent, thread-safe). With ``defer=True`` Ray is
    only started when that function is first called, so a caller can do useful work while the
    cluster boots (a local start takes seconds).
    """
    import ray

    lock = threading.Lock()
    started = {"by_us": False}

    def ensure() -> None:
        with lock:
            if not ray.is_initialized():
                _start(num_cpus)
                started["by_us"] = True

    if not defer:
        ensure()
    try:
        yield ensure
    finally:
        if started["by_us"]:
            ray.shutdown()
