"""Provenance shared by every output that records where it came from: file hashes, package
versions, the code's hash. No heavy imports, so scoring workers and the CLI can use it freely.

Example:
    >>> package_versions(["numpy", "no-such-package"])["no-such-package"]
    'absent'
"""

from __future__ import annotations

import hashlib
import platform
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

# The packages whose versions a report or bundle lists.
PIPELINE_PACKAGES = (
    "sonorisk", "numpy", "polars", "pyarrow", "scikit-learn", "xgboost", "torch", "timm", "ray",
    "pyradiomics-bhklab", "great-expectations", "dvc", "SimpleITK", "safetensors", "matplotlib",
)  # fmt: skip


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def python_version() -> str:
    """``major.minor``: the lock pins the packages, not Python's patch level, which outputs must not
    depend on (the same bytes from any 3.11 interpreter)."""
    return ".".join(platform.python_version_tuple()[:2])


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed version of each package, "absent" when it is not installed."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def code_sha256() -> str:
    """SHA-256 over the ``sonorisk`` modules this process has loaded (relative path and content, sorted).

    Outputs record this rather than the git revision: the same code gives the same bytes whatever
    commit carries it, so a clean clone reproduces the ``dvc.lock`` committed beside the code. Only
    the modules a stage ran count, and those are among its DVC deps (tests/unit/test_architecture.py):
    a change elsewhere in the package changes neither its outputs nor its lock entry.
    """
    package = Path(__file__).resolve().parent
    files = [
        getattr(module, "__file__", None)
        for name, module in list(sys.modules.items())
        if name.split(".")[0] == "sonorisk"
    ]
    loaded = {Path(file).resolve() for file in files if file}
    digest = hashlib.sha256()
    for path in sorted(p for p in loaded if p.is_relative_to(package)):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
