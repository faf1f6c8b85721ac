"""Provenance shared by every output that records where it came from: file hashes, package
versions, the git revision. No heavy imports, so scoring workers and the CLI can use it freely.

Example:
    >>> package_versions(["numpy", "no-such-package"])["no-such-package"]
    'absent'
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from sonorisk.paths import PROJECT_ROOT

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


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed version of each package, "absent" when it is not installed."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def git_revision() -> str:
    """HEAD of the project's checkout, or "unknown" outside a git checkout."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
