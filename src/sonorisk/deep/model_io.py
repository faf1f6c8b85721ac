"""Model files: weights as safetensors plus a JSON model card; loading checks the weights' hash.

Example:
    >>> import tempfile, pathlib
    >>> from sonorisk.deep.factory import create_model
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> card = save_model(create_model("vit_small", input_size=32), folder, {"note": "doctest"})
    >>> load_model(folder).preprocess.input_size, len(card["weights_sha256"])
    (32, 64)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sonorisk.atomic_file import atomic_path, write_json
from sonorisk.provenance import file_sha256, package_versions, python_version
from sonorisk.reproducibility import current_profile

if TYPE_CHECKING:  # torch is imported where a network is built: reading a card must not cost ~400 MB
    import torch

    from sonorisk.deep.registry import ScoredModel

WEIGHTS = "model.safetensors"
CARD = "model_card.json"


class ModelFileError(ValueError):
    """A model folder that cannot be trusted (missing file, changed weights)."""


def _versions() -> dict[str, str]:
    return {"python": python_version()} | package_versions(("torch", "timm", "numpy", "safetensors"))


def save_model(model: ScoredModel, folder: Path, card_extra: dict[str, Any]) -> dict[str, Any]:
    """Write weights and a card (architecture, options, preprocessing, versions, hash, extras)."""
    from safetensors.torch import save_file

    state = {k: v.detach().to("cpu").contiguous() for k, v in model.network.state_dict().items()}
    with atomic_path(folder / WEIGHTS) as partial:
        save_file(state, str(partial), metadata={"architecture": model.name})
    card = {
        "architecture": model.name,
        "options": model.options,
        "preprocess": model.preprocess.as_dict(),
        "weights_file": WEIGHTS,
        "weights_sha256": file_sha256(folder / WEIGHTS),
        "versions": _versions(),
        "reproducibility": current_profile(),
    } | card_extra
    write_json(folder / CARD, card, default=float)
    return card


def load_card(folder: Path) -> dict[str, Any]:
    path = folder / CARD
    if not path.exists():
        raise ModelFileError(f"{path} is missing")
    card: dict[str, Any] = json.loads(path.read_text())
    return card


def verify_model(folder: Path) -> dict[str, Any]:
    """The model card, after checking that the weights exist and match its SHA-256 (no network built).

    Raises:
        ModelFileError: missing files or weights whose hash differs from the card's.
    """
    card = load_card(folder)
    weights = folder / card["weights_file"]
    if not weights.exists():
        raise ModelFileError(f"{weights} is missing")
    found = file_sha256(weights)
    if found != card["weights_sha256"]:
        raise ModelFileError(f"{weights} was changed: SHA-256 {found[:12]}... differs from the model card")
    return card


def load_model(folder: Path, device: str | torch.device = "cpu") -> ScoredModel:
    """Rebuild the network from its card and load the weights after checking their SHA-256.

    Raises:
        ModelFileError: missing files, weights whose hash differs from the card's, or weights that
            do not fit the card's network.
    """
    import torch
    from safetensors.torch import load_file

    from sonorisk.deep.factory import create_model

    card = verify_model(folder)
    weights = folder / card["weights_file"]
    # Built on the meta device (no random initialisation to throw away), then given fresh memory and
    # the file's tensors. Copied, not adopted (``assign=True``): tensors inside the file's buffer are
    # not 64-byte aligned, and kernels then round differently, so scores would depend on where the
    # file landed (docs/performance.md, "Model loading").
    with torch.device("meta"):
        model = create_model(card["architecture"], **card["options"], **card["preprocess"])
    tensors = {name for name, _ in [*model.network.named_parameters(), *model.network.named_buffers()]}
    unsaved = sorted(tensors - set(model.network.state_dict()))
    if unsaved:  # non-persistent buffers: no file holds them, and to_empty leaves them garbage
        raise ModelFileError(f"{weights} does not hold {', '.join(unsaved[:5])}: the network cannot be rebuilt from it")
    model = model.to_empty(device=device)  # memory on the scoring device itself: no second copy
    try:
        model.network.load_state_dict(load_file(str(weights)))
    except RuntimeError as exc:  # missing, unexpected or misshapen tensors
        raise ModelFileError(f"{weights} does not fit a {card['architecture']} network: {exc}"[:600]) from exc
    return model.eval()
