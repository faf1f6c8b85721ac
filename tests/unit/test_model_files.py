"""Model folders: a loaded network computes what the saved one did; weights that do not fit the
card's network are a clear ModelFileError, never a half-built network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from sonorisk.deep.factory import create_model, list_models
from sonorisk.deep.model_io import ModelFileError, load_model, save_model
from sonorisk.deep.registry import REGISTRY
from sonorisk.provenance import file_sha256


def _rewrite_weights(folder: Path, state: dict[str, torch.Tensor]) -> None:
    """Replace the weights and re-sign the card, as a careless export would (the hash then passes)."""
    save_file(state, str(folder / "model.safetensors"))
    card = json.loads((folder / "model_card.json").read_text())
    card["weights_sha256"] = file_sha256(folder / "model.safetensors")
    (folder / "model_card.json").write_text(json.dumps(card))


@pytest.mark.parametrize("name", list_models())
def test_a_loaded_model_scores_as_the_saved_one(name: str, tmp_path: Path) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        saved = create_model(name, input_size=32).eval()
    save_model(saved, tmp_path, {})
    loaded = load_model(tmp_path)
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        assert torch.equal(loaded(x), saved(x))
    assert not loaded.training
    assert not any(t.is_meta for t in [*loaded.parameters(), *loaded.buffers()])


def test_weights_missing_a_tensor_are_a_model_file_error(tmp_path: Path) -> None:
    save_model(create_model("vit_small", input_size=32), tmp_path, {})
    state = load_file(str(tmp_path / "model.safetensors"))
    del state["head.weight"]
    _rewrite_weights(tmp_path, state)
    with pytest.raises(ModelFileError, match=r"(?s)does not fit a vit_small network.*head\.weight"):
        load_model(tmp_path)


def test_a_tensor_no_state_dict_holds_is_a_model_file_error(tmp_path: Path) -> None:
    """A network with a non-persistent buffer cannot be rebuilt from its weights alone."""

    def with_scratch_buffer(preprocess, **options):  # type: ignore[no-untyped-def]
        network = torch.nn.Linear(3, 1)
        network.register_buffer("scratch", torch.zeros(2), persistent=False)
        return network

    REGISTRY["with_scratch_buffer"] = with_scratch_buffer
    try:
        save_model(create_model("with_scratch_buffer"), tmp_path, {})
        with pytest.raises(ModelFileError, match=r"does not hold .*scratch"):
            load_model(tmp_path)
    finally:
        del REGISTRY["with_scratch_buffer"]
