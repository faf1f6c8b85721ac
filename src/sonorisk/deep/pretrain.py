"""Self-supervised pretraining of an architecture's encoder on unlabelled lesion crops (SimCLR).

A hospital has thousands of scans without outcomes and a few hundred with; contrastive pretraining
lets the unlabelled ones shape the encoder before the labelled ones fit it. Two augmented views of
each crop are pulled together and pushed away from every other crop of the batch (NT-Xent; Chen et
al. 2020). The views change what a sonographer or a probe changes (lateral flip, probe tilt, zoom
and position of the box around the lesion, gain, contrast and the compression curve), never depth
direction or speckle statistics, so the encoder learns what stays: the lesion's shape, margin,
echo pattern and what lies behind it.

Plain torch: ``lightly`` 1.6 would bring pytorch-lightning into the lock for the dozen lines of the
loss below.

Randomness: initialisation draws from torch's default generator inside ``torch.random.fork_rng``
seeded from the config; shuffling and views use explicit ``torch.Generator`` objects. On a CPU the
result is bit-for-bit the same for a seed.

Example:
    >>> import torch
    >>> z = torch.nn.functional.normalize(torch.eye(4)[:, :3], dim=1)
    >>> bool(nt_xent(z, z, 0.5) < nt_xent(z, z.roll(1, 0), 0.5))  # matching views cost less
    True
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from sonorisk.deep.factory import create_model
from sonorisk.deep.train import to_network_input

# The classifier heads timm names; pretraining has none, and fine-tuning draws its own.
HEAD_PREFIXES = ("fc.", "head.")


@dataclass(frozen=True)
class PretrainConfig:
    epochs: int = 8
    batch_size: int = 64  # crops per step (two views each)
    lr: float = 1e-3
    weight_decay: float = 1e-4
    temperature: float = 0.2
    projection_dim: int = 64
    seed: int = 0
    threads: int = 2


@dataclass
class PretrainResult:
    weights: dict[str, torch.Tensor]  # the network's state dict without its classifier head
    history: list[dict[str, float]] = field(default_factory=list)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's normalised-temperature cross entropy of two batches of unit embeddings (N, D):
    row i of ``z1`` and of ``z2`` are the positive pair, the other 2N - 2 rows the negatives."""
    z = torch.cat([z1, z2])
    n = z1.shape[0]
    similarity = z @ z.T / temperature
    similarity.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(similarity, targets)


def view(crops: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One random view of (N, S, S) grey crops in [0, 1]: lateral flip, tilt (+-10 degrees), zoom
    into 60-100 % of the box at a random position, gain, contrast and gamma jitter."""
    n = crops.shape[0]
    x = crops.clone()
    flip = torch.rand(n, generator=generator) < 0.5
    x[flip] = torch.flip(x[flip], dims=(-1,))
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(10.0)
    zoom = 0.6 + 0.4 * torch.rand(n, generator=generator)
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * (1 - zoom).unsqueeze(1)
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, [n, 1, *x.shape[-2:]], align_corners=False)
    x = F.grid_sample(x.unsqueeze(1), grid, mode="bilinear", padding_mode="reflection", align_corners=False)[:, 0]
    gamma = torch.exp((torch.rand(n, 1, 1, generator=generator) * 2 - 1) * math.log(1.3))
    x = x.clamp(0.0, 1.0) ** gamma
    gain = (torch.rand(n, 1, 1, generator=generator) * 2 - 1) * 0.1
    contrast = 1 + (torch.rand(n, 1, 1, generator=generator) * 2 - 1) * 0.25
    mean = x.mean(dim=(-2, -1), keepdim=True)
    return ((x - mean) * contrast + mean + gain).clamp(0.0, 1.0)


class Contrastive(nn.Module):
    """An architecture's network without its head, and a projection MLP on its pooled features."""

    def __init__(self, network: Any, projection_dim: int) -> None:  # a timm network (forward_head, num_features)
        super().__init__()
        self.network = network
        width = int(network.num_features)
        self.projector = nn.Sequential(
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, projection_dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.network.forward_head(self.network.forward_features(x), pre_logits=True)
        return F.normalize(self.projector(features), dim=1)


def encoder_weights(network: nn.Module) -> dict[str, torch.Tensor]:
    """The network's state dict without the classifier head, contiguous and detached (safetensors)."""
    return {
        name: tensor.detach().clone().contiguous()
        for name, tensor in network.state_dict().items()
        if not name.startswith(HEAD_PREFIXES)
    }


def pretrain_encoder(
    name: str,
    overrides: dict[str, Any],
    crops: np.ndarray,
    config: PretrainConfig,
    log: Callable[[str], None] | None = None,
) -> PretrainResult:
    """SimCLR on ``crops`` (N, S, S) for the registered architecture ``name``; the encoder's weights.

    Raises:
        ValueError: fewer than two crops per batch can be formed.
    """
    if len(crops) < 4:
        raise ValueError(f"self-supervised pretraining needs at least 4 crops, got {len(crops)}")
    log = log or (lambda _: None)
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            scored = create_model(name, **overrides)
            model = Contrastive(scored.network, config.projection_dim)
            return _fit(model, scored.preprocess, torch.as_tensor(crops, dtype=torch.float32), config, log)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def _fit(
    model: Contrastive, preprocess: Any, crops: torch.Tensor, config: PretrainConfig, log: Callable[[str], None]
) -> PretrainResult:
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    batch = min(config.batch_size, len(crops))
    steps_per_epoch = len(crops) // batch  # whole batches only: NT-Xent wants every negative
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(config.epochs * steps_per_epoch, 1))
    generator = torch.Generator().manual_seed(config.seed)
    history = []
    for epoch in range(config.epochs):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(crops), generator=generator)
        total = 0.0
        for step in range(steps_per_epoch):
            index = order[step * batch : (step + 1) * batch]
            first = to_network_input(view(crops[index], generator), preprocess)
            second = to_network_input(view(crops[index], generator), preprocess)
            optimiser.zero_grad(set_to_none=True)
            loss = nt_xent(model(first), model(second), config.temperature)
            loss.backward()
            optimiser.step()
            scheduler.step()
            total += float(loss.detach())
        mean_loss = total / max(steps_per_epoch, 1)
        history.append({"epoch": epoch, "loss": mean_loss})
        log(f"epoch {epoch + 1}/{config.epochs}, contrastive loss {mean_loss:.4f}, {time.perf_counter() - start:.1f} s")
    return PretrainResult(encoder_weights(model.network), history)
