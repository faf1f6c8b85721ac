"""Read one stage's section of params.yaml (a stage reads only its own section)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def stage_params(stage: str, path: Path = Path("params.yaml")) -> dict[str, Any]:
    section: dict[str, Any] = yaml.safe_load(path.read_text())[stage]
    return section
