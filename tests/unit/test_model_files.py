"""Model folders: a loaded network computes what the saved one did; weights that do not fit the
card's network are a clear ModelFileError, never a half-built network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from sonorisk.deep.ensemble import FoldEnsemble, Standardise
from sonorisk.deep.factory import create_model, list_models
from sonorisk.deep.model_io import ModelFileError, load_model, members_sha256, save_model
from sonorisk.deep.registry import REGISTRY, ScoredModel
from sonorisk.provenance import file_sha256


def _rewrite_weights(folder: Path, state: dict[str, torch.Tensor]) -> None:
    """Replace the weights and re-sign the card, as a careless export would (the hash then passes)."""
    save_file(state, str(folder / "model.safetensors"))
    card = json.loads((folder / "model_card.json").read_text())
    card["members"][0]["weights_sha256"] = file_sha256(folder / "model.safetensors")
    card["weights_sha256"] = members_sha256([file_sha256(folder / "model.safetensors")])
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


def _ensemble(seed: int) -> ScoredModel:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        members = [create_model("vit_small", input_size=16, embed_dim=16, depth=1, num_heads=2) for _ in range(3)]
    scales = [Standardise(0.5, 2.0), Standardise(-1.0, 0.5), Standardise(0.0, 1.0)]
    network = FoldEnsemble([m.network for m in members], scales, Standardise(0.2, 1.5))
    return ScoredModel("vit_small", network, members[0].preprocess, members[0].options).eval()


def test_a_loaded_fold_ensemble_scores_the_standardised_mean_of_its_members(tmp_path: Path) -> None:
    saved = _ensemble(seed=3)
    card = save_model(saved, tmp_path, {})
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == [f"fold_{i}.safetensors" for i in (1, 2, 3)]
    assert card["weights_sha256"] == members_sha256(
        [file_sha256(tmp_path / f"fold_{i}.safetensors") for i in (1, 2, 3)]
    )
    loaded = load_model(tmp_path)
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        logits = [m(x).reshape(-1).double().numpy() for m in saved.network.members]
        got = loaded(x).double().numpy()
    # By hand: each member standardised by its own fold's centre and spread, averaged, put back on
    # the pooled scale (0.2 + 1.5 z).
    z = [(logits[0] - 0.5) / 2.0, (logits[1] + 1.0) / 0.5, logits[2]]
    np.testing.assert_allclose(got, 0.2 + 1.5 * (z[0] + z[1] + z[2]) / 3, rtol=1e-5, atol=1e-5)


def test_a_changed_ensemble_member_is_refused(tmp_path: Path) -> None:
    save_model(_ensemble(seed=4), tmp_path, {})
    member = tmp_path / "fold_2.safetensors"
    data = bytearray(member.read_bytes())
    data[-1] ^= 1
    member.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"fold_2\.safetensors was changed"):
        load_model(tmp_path)


def test_a_card_whose_model_hash_is_not_its_members_is_refused(tmp_path: Path) -> None:
    """A member swapped for another fold's weights and its line re-signed: the model hash catches it."""
    save_model(_ensemble(seed=5), tmp_path, {})
    (tmp_path / "fold_3.safetensors").write_bytes((tmp_path / "fold_1.safetensors").read_bytes())
    card = json.loads((tmp_path / "model_card.json").read_text())
    card["members"][2]["weights_sha256"] = card["members"][0]["weights_sha256"]
    (tmp_path / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="model hash is not its members"):
        load_model(tmp_path)


def test_saving_replaces_an_earlier_models_weights(tmp_path: Path) -> None:
    save_model(_ensemble(seed=6), tmp_path, {})
    save_model(create_model("vit_small", input_size=16), tmp_path, {})
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == ["model.safetensors"]
