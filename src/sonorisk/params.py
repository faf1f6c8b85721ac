"""The one reader of params.yaml: a stage (or the command that runs the same job) reads only its own
section.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "params.yaml"
    >>> _ = path.write_text("split:\\n  seed: 7\\n")
    >>> stage_params("split", path)
    {'seed': 7}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sonorisk.paths import PARAMS_FILE


class ParamsError(ValueError):
    """params.yaml is missing, unreadable or lacks the section asked for."""


def stage_params(stage: str, path: Path = PARAMS_FILE) -> dict[str, Any]:
    """The ``stage`` section of ``path``.

    Raises:
        ParamsError: no such file, not a YAML mapping, or no such section.
    """
    if not path.is_file():
        raise ParamsError(f"{path} does not exist (run from the project root, or pass --params)")
    content = yaml.safe_load(path.read_text()) or {}
    if not isinstance(content, dict) or not isinstance(content.get(stage), dict):
        raise ParamsError(f"{path} has no `{stage}:` section")
    section: dict[str, Any] = content[stage]
    return section
