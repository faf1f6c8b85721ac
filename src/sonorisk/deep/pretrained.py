"""Reading ``dl_pretrain``'s encoders: each weights file checked against the card's SHA-256.

``dl_train`` imports this module, never the pretraining itself, so its code dependencies stay its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sonorisk.deep.model_io import ModelFileError
from sonorisk.provenance import file_sha256

CARD = "pretrain_card.json"


def load_pretrained(folder: Path | None) -> dict[str, dict[str, Any]]:
    """Architecture -> encoder state dict, from a ``dl_pretrain`` folder, each file checked against
    its card's SHA-256 ({} when there is no folder or no card).

    Raises:
        ModelFileError: a weights file is missing or differs from its card.
    """
    if folder is None or not (folder / CARD).exists():
        return {}
    from safetensors.torch import load_file

    card = json.loads((folder / CARD).read_text())
    weights = {}
    for name, entry in card["architectures"].items():
        path = folder / entry["weights_file"]
        if not path.exists() or file_sha256(path) != entry["weights_sha256"]:
            raise ModelFileError(f"{path} is missing or differs from {folder / CARD}: rerun dl_pretrain")
        weights[name] = load_file(str(path))
    return weights


def pretrained_sha256(folder: Path, architecture: str) -> str:
    """The SHA-256 the ``dl_pretrain`` card records for ``architecture``'s encoder."""
    card = json.loads((folder / CARD).read_text())
    return str(card["architectures"][architecture]["weights_sha256"])
