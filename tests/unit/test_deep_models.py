"""Every registered model: a forward pass of the right shape with no NaN; preprocessing from the
model's own config; deterministic training on a CPU for a seed."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from sonorisk.deep.crops import crop_case
from sonorisk.deep.factory import create_model, list_models
from sonorisk.deep.preprocess import Preprocess
from sonorisk.deep.train import TrainConfig, load_matching, to_network_input, train_model
from sonorisk.imaging.codec import encode_png


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("input_size", [32, 64])
def test_forward_pass_of_every_registered_model(name: str, input_size: int) -> None:
    model = create_model(name, input_size=input_size).eval()
    x = to_network_input(
        np.random.default_rng(0).random((2, input_size, input_size), dtype=np.float32), model.preprocess
    )
    with torch.no_grad():
        out = model(x)
    assert out.shape == (2,)
    assert torch.isfinite(out).all()


def test_hybrid_uses_resnet_feature_maps_as_tokens() -> None:
    for stride, tokens in ((16, 4 * 4), (32, 2 * 2)):
        model = create_model("resnet34_vit", input_size=64, stride=stride)
        assert model.network.patch_embed.num_patches == tokens
        assert model.network.cls_token is not None
        assert model.network.pos_embed.shape[1] == tokens + 1  # class token + one per feature-map cell


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="registered"):
        create_model("resnet1000")


def test_crop_comes_from_the_model_preprocessing() -> None:
    image = np.zeros((100, 120), np.uint8)
    image[40:60, 50:70] = 200
    mask = np.zeros((100, 120), np.uint8)
    mask[40:60, 50:70] = 255
    crop, error = crop_case(encode_png(image), encode_png(mask), Preprocess(input_size=24, crop_margin=0.5))
    assert error is None
    assert crop.shape == (24, 24)
    assert crop[12, 12] == pytest.approx(200 / 255, abs=0.01)  # the lesion is centred
    assert crop[0, 0] == 0.0  # the margin shows the surroundings
    _, error = crop_case(b"not a png", encode_png(mask), Preprocess())
    assert "does not" in error or "not a readable" in error


def _weights_hash(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode() + tensor.detach().numpy().tobytes())
    return digest.hexdigest()


def _tiny_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(24) % 3 == 0
    x = rng.random((24, 16, 16), dtype=np.float32) * 0.5 + y[:, None, None] * 0.3
    return x.astype(np.float32), y


def test_training_is_deterministic_on_cpu_for_a_seed() -> None:
    x, y = _tiny_data(0)
    config = TrainConfig(epochs=2, batch_size=8, seed=5, threads=2, device="cpu")
    global_state = torch.get_rng_state()
    runs = [train_model("vit_small", x, y, x, y, config, {"input_size": 16, "patch_size": 4}) for _ in range(2)]
    assert torch.equal(torch.get_rng_state(), global_state)  # training leaves the global generator alone
    assert _weights_hash(runs[0].model) == _weights_hash(runs[1].model)
    other = train_model(
        "vit_small",
        x,
        y,
        x,
        y,
        TrainConfig(epochs=2, batch_size=8, seed=6, device="cpu"),
        {"input_size": 16, "patch_size": 4},
    )
    assert _weights_hash(other.model) != _weights_hash(runs[0].model)


def test_local_weights_load_into_the_hybrid_backbone() -> None:
    cnn = create_model("resnet34", input_size=32).network.state_dict()
    hybrid = create_model("resnet34_vit", input_size=32).network
    loaded = load_matching(hybrid, cnn)
    assert loaded > 50  # stem and layers 1-3 of ResNet34
    assert torch.equal(hybrid.state_dict()["patch_embed.backbone.conv1.weight"], cnn["conv1.weight"])


def test_warm_up_epochs_are_never_selected() -> None:
    """With min_epochs=3 the kept checkpoint comes from epoch index 2 or later, even when an earlier
    epoch scored higher; with min_epochs=1 every epoch is eligible."""
    x, y = _tiny_data(1)
    options = {"input_size": 16, "patch_size": 4}
    free = train_model("vit_small", x, y, x, y, TrainConfig(epochs=4, batch_size=8, seed=2, min_epochs=1), options)
    held = train_model("vit_small", x, y, x, y, TrainConfig(epochs=4, batch_size=8, seed=2, min_epochs=3), options)
    assert [h["val_auc"] for h in free.history] == [h["val_auc"] for h in held.history[: len(free.history)]]
    assert free.best_epoch < 2  # an early epoch wins when every epoch is eligible (ties keep the first)
    assert held.best_epoch >= 2
    eligible = [h["val_auc"] for h in held.history[2:]]
    assert held.best_val_auc == max(eligible)
    assert free.best_val_auc == max(h["val_auc"] for h in free.history)
