"""Ray: connect to the cluster named by ``RAY_ADDRESS``, else start a local one sized to the machine.

Example:
    >>> describe_target({"RAY_ADDRESS": "ray://head:10001"})
    'existing cluster at ray://head:10001'
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any


def describe_target(environ: Mapping[str, str] = os.environ) -> str:
    address = environ.get("RAY_ADDRESS")
    return f"existing cluster at {address}" if address else f"local cluster ({os.cpu_count()} CPUs)"


@contextmanager
def ray_session(num_cpus: int | None = None) -> Iterator[Any]:
    """Use Ray for the duration of a block.

    Reuses an already initialised Ray (tests, notebooks); connects to ``RAY_ADDRESS`` when set;
    otherwise starts a local cluster with ``num_cpus`` (default: all) and shuts it down afterwards.
    """
    import ray

    if ray.is_initialized():
        yield ray
        return
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=False)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()
