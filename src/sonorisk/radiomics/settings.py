"""pyradiomics settings from ``data_contracts/radiomics/``, with a content hash for provenance.

Example:
    >>> settings = load_settings()
    >>> settings.params["setting"]["binWidth"], len(settings.sha256)
    (4, 64)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sonorisk.paths import CONTRACTS_DIR

DEFAULT_SETTINGS = CONTRACTS_DIR / "radiomics" / "ultrasound_2d.yaml"


@dataclass(frozen=True)
class RadiomicsStageParams:
    """The ``radiomics:`` section of params.yaml (paths relative to the project root)."""

    settings: str = "data_contracts/radiomics/ultrasound_2d.yaml"
    perturbation: str = "data_contracts/radiomics/perturbation.yaml"  # the robustness screen
    cases_per_task: int = 4  # cases per Ray task


@dataclass(frozen=True)
class RadiomicsSettings:
    """A pyradiomics parameter set: its parsed content, where it came from and its hash."""

    params: dict[str, Any]
    source: str
    sha256: str


def settings_hash(params: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the parsed settings (comments and layout do not count)."""
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def load_settings(path: Path = DEFAULT_SETTINGS) -> RadiomicsSettings:
    params = yaml.safe_load(path.read_text())
    return RadiomicsSettings(params=params, source=str(path), sha256=settings_hash(params))


def from_params(params: dict[str, Any], source: str = "inline") -> RadiomicsSettings:
    return RadiomicsSettings(params=params, source=source, sha256=settings_hash(params))
