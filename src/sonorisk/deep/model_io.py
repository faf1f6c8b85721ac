"""Model files: each network's weights as safetensors plus a JSON model card; loading checks every
weights file's hash.

A model folder holds one network (``model.safetensors``) or a fold ensemble (``fold_1.safetensors``
... ``fold_k.safetensors``, ``deep/ensemble.py``). The card lists each member's file, SHA-256 and
standardisation; its ``weights_sha256`` is the hash of the members' hashes in order, the one
identity that risk tables and the bundle record for the model.

Example:
    >>> import tempfile, pathlib
    >>> from sonorisk.deep.factory import create_model
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> card = save_model(create_model("vit_small", input_size=32), folder, {"note": "doctest"})
    >>> load_model(folder).preprocess.input_size, len(card["weights_sha256"]), len(card["members"])
    (32, 64, 1)
"""

from __future__ import annotations

import hashlib
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


def members_sha256(hashes: list[str]) -> str:
    """The model's identity: SHA-256 of its members' weight hashes, one per line, in member order."""
    return hashlib.sha256("\n".join(hashes).encode()).hexdigest()


def save_model(model: ScoredModel, folder: Path, card_extra: dict[str, Any]) -> dict[str, Any]:
    """Write each member's weights and a card (architecture, options, preprocessing, versions,
    member hashes and standardisations, extras). Weights files of an earlier model in ``folder``
    are removed, so the folder holds exactly what the card lists."""
    from safetensors.torch import save_file

    from sonorisk.deep.ensemble import FoldEnsemble, Standardise

    network = model.network
    if isinstance(network, FoldEnsemble):
        networks, standardise, output = list(network.members), network.standardise, network.output
        names = [f"fold_{i + 1}.safetensors" for i in range(len(networks))]
    else:
        networks, standardise, output, names = [network], [Standardise()], Standardise(), [WEIGHTS]
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.safetensors"):
        if stale.name not in names:
            stale.unlink()
    members: list[dict[str, Any]] = []
    for name, member, scale in zip(names, networks, standardise, strict=True):
        state = {k: v.detach().to("cpu").contiguous() for k, v in member.state_dict().items()}
        with atomic_path(folder / name) as partial:
            save_file(state, str(partial), metadata={"architecture": model.name})
        members.append({"weights_file": name, "weights_sha256": file_sha256(folder / name)} | scale.as_dict())
    card = {
        "architecture": model.name,
        "options": model.options,
        "preprocess": model.preprocess.as_dict(),
        "members": members,
        "output": output.as_dict(),
        "weights_sha256": members_sha256([m["weights_sha256"] for m in members]),
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


def card_members(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The card's members; a card written before fold ensembles (one ``weights_file``) is one member."""
    if "members" in card:
        return list(card["members"])
    return [{"weights_file": card["weights_file"], "weights_sha256": card["weights_sha256"]}]


def verify_model(folder: Path) -> dict[str, Any]:
    """The model card, after checking that every member's weights exist and match its SHA-256 and
    that the card's model hash is its members' (no network built).

    Raises:
        ModelFileError: missing files, weights whose hash differs from the card's, or a card whose
            model hash does not match its members.
    """
    card = load_card(folder)
    members = card_members(card)
    for member in members:
        weights = folder / member["weights_file"]
        if not weights.exists():
            raise ModelFileError(f"{weights} is missing")
        found = file_sha256(weights)
        if found != member["weights_sha256"]:
            raise ModelFileError(f"{weights} was changed: SHA-256 {found[:12]}... differs from the model card")
    if "members" in card and card["weights_sha256"] != members_sha256([m["weights_sha256"] for m in members]):
        raise ModelFileError(f"{folder / CARD} was changed: its model hash is not its members' hashes")
    return card


def load_model(folder: Path, device: str | torch.device = "cpu") -> ScoredModel:
    """Rebuild the network(s) from the card and load the weights after checking their SHA-256; a
    fold ensemble comes back as one model whose logit is the members' standardised mean.

    Raises:
        ModelFileError: missing files, weights whose hash differs from the card's, or weights that
            do not fit the card's network.
    """
    from sonorisk.deep.ensemble import FoldEnsemble, Standardise
    from sonorisk.deep.registry import ScoredModel

    card = verify_model(folder)
    members = card_members(card)
    networks = [_load_network(card, folder / m["weights_file"], device) for m in members]
    standardise = [Standardise(m.get("centre", 0.0), m.get("scale", 1.0)) for m in members]
    output = Standardise(**card.get("output", {}))
    if len(networks) == 1 and standardise[0].identity and output.identity:
        return networks[0]
    ensemble = FoldEnsemble([n.network for n in networks], standardise, output)
    return ScoredModel(networks[0].name, ensemble, networks[0].preprocess, networks[0].options).eval()


def _load_network(card: dict[str, Any], weights: Path, device: str | torch.device) -> ScoredModel:
    import torch
    from safetensors.torch import load_file

    from sonorisk.deep.factory import create_model

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
