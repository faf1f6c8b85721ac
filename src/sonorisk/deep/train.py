"""Train one network: AdamW with a cosine schedule, seeded augmentation, early stopping on the AUC
of the validation rows it is given (a CV fold's held-out part), bf16 autocast on a GPU, bit-for-bit
deterministic on a CPU for a seed.

Randomness: weight initialisation and dropout draw from torch's default generator, so training runs
inside ``torch.random.fork_rng`` seeded from the config (the caller's global state is restored
afterwards); shuffling and augmentation use explicit ``torch.Generator`` objects.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sonorisk.deep.augment import augment
from sonorisk.deep.factory import create_model
from sonorisk.deep.preprocess import Preprocess
from sonorisk.deep.registry import ScoredModel
from sonorisk.stats.auc import auc


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 12
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    patience: int = 4
    # Checkpoints from the first epochs (warm-up, learning rate still ramping) are under-trained; on a
    # small validation set their AUC is mostly chance, and selecting one would reward luck. The best
    # epoch is chosen from epoch ``min_epochs`` on (1-based); patience counts from there too.
    min_epochs: int = 3
    seed: int = 0
    threads: int = 2
    device: str = "auto"  # "auto": CUDA when available, else CPU

    def resolved_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)


@dataclass
class TrainResult:
    model: ScoredModel
    best_epoch: int
    best_val_auc: float
    history: list[dict[str, float]] = field(default_factory=list)
    stopped: str = ""  # why training ended: no better validation AUC for `patience` epochs, or the budget


def load_matching(network: torch.nn.Module, weights: dict[str, torch.Tensor]) -> int:
    """Copy every tensor whose name matches (directly, or below an embedding backbone such as the
    hybrid's ``patch_embed.backbone.``) and whose shape agrees; the rest keep their initialisation.

    Returns:
        How many tensors were loaded.
    """
    own = network.state_dict()
    loaded = {}
    for name, tensor in own.items():
        for candidate in (name, name.removeprefix("patch_embed.backbone."), name.removeprefix("backbone.")):
            source = weights.get(candidate)
            if source is not None and tuple(source.shape) == tuple(tensor.shape):
                loaded[name] = source
                break
    network.load_state_dict(loaded, strict=False)
    return len(loaded)


def to_network_input(crops: np.ndarray | torch.Tensor, preprocess: Preprocess) -> torch.Tensor:
    """(N, S, S) grey crops in [0, 1] -> normalised (N, C, S, S) float32 tensor.

    Example:
        >>> x = to_network_input(np.full((2, 8, 8), 0.35, np.float32), Preprocess(input_size=8))
        >>> tuple(x.shape), float(x.abs().max())
        ((2, 3, 8, 8), 0.0)
        >>> gained = np.stack([np.linspace(0.2, 0.6, 64).reshape(8, 8), np.linspace(0.3, 0.7, 64).reshape(8, 8)])
        >>> per_image = to_network_input(gained.astype(np.float32), Preprocess(input_size=8, normalise="per_image"))
        >>> bool(torch.allclose(per_image[0], per_image[1], atol=1e-5))  # an overall gain is gone
        True
    """
    x = torch.as_tensor(crops, dtype=torch.float32)
    if preprocess.normalise == "per_image":
        centre = x.mean(dim=(-2, -1), keepdim=True)
        x = (x - centre) / x.std(dim=(-2, -1), keepdim=True).clamp_min(1e-3)
    elif preprocess.normalise == "fixed":
        x = (x - preprocess.mean) / preprocess.std
    else:
        raise ValueError(f"normalise must be 'fixed' or 'per_image', not {preprocess.normalise!r}")
    return x.unsqueeze(1).expand(-1, preprocess.in_chans, -1, -1).contiguous()


def predict_logits(
    model: ScoredModel, crops: np.ndarray, batch_size: int = 64, device: torch.device | None = None
) -> np.ndarray:
    """Logits (float64) for (N, S, S) crops."""
    device = device or next(model.parameters()).device
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(crops), batch_size):
            x = to_network_input(crops[start : start + batch_size], model.preprocess).to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                logits = model(x)
            out.append(logits.float().cpu().numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


def predict(
    model: ScoredModel, crops: np.ndarray, batch_size: int = 64, device: torch.device | None = None
) -> np.ndarray:
    """Probabilities for (N, S, S) crops."""
    return sigmoid(predict_logits(model, crops, batch_size, device))


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), computed in float32 as torch.sigmoid (scores stay bit-identical to before).

    Example:
        >>> sigmoid(np.array([0.0])).tolist()
        [0.5]
    """
    return torch.sigmoid(torch.as_tensor(np.asarray(logits, dtype=np.float32))).numpy()


def _epoch(
    model: ScoredModel,
    crops: torch.Tensor,
    y: torch.Tensor,
    optimiser: torch.optim.Optimizer,
    scheduler: Any,
    loss_fn: torch.nn.Module,
    config: TrainConfig,
    generator: torch.Generator,
    device: torch.device,
) -> float:
    model.train()
    order = torch.randperm(len(crops), generator=generator)
    total = 0.0
    for start in range(0, len(order), config.batch_size):
        index = order[start : start + config.batch_size]
        if index.numel() < 2:  # batch norm needs two samples
            continue
        x = to_network_input(augment(crops[index], generator), model.preprocess).to(device)
        optimiser.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = loss_fn(model(x).float(), y[index].to(device))
        loss.backward()
        optimiser.step()
        scheduler.step()
        total += float(loss.detach()) * index.numel()
    return total / len(crops)


def train_model(
    name: str,
    train_crops: np.ndarray,
    train_y: np.ndarray,
    val_crops: np.ndarray,
    val_y: np.ndarray,
    config: TrainConfig,
    overrides: dict[str, Any] | None = None,
    init_weights: dict[str, torch.Tensor] | None = None,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train ``name`` on the training crops; keep the epoch with the best validation AUC.

    Args:
        name: registered model name.
        train_crops, train_y: (N, S, S) crops in [0, 1] and their outcomes.
        val_crops, val_y: the rows whose AUC picks the epoch (a fold's held-out part).
        config: optimisation and determinism settings.
        overrides: model options (input size, stride, ...).
        init_weights: a state dict to start from (e.g. local ImageNet weights) instead of scratch.
        log: one line per epoch (loss, validation AUC, seconds) and why training stopped.
    """
    device = config.resolved_device()
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            model = create_model(name, **(overrides or {}))
            if init_weights is not None:
                load_matching(model.network, init_weights)
            model.to(device)
            return _fit(model, train_crops, train_y, val_crops, val_y, config, device, log or (lambda _: None))
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def _fit(
    model: ScoredModel,
    train_crops: np.ndarray,
    train_y: np.ndarray,
    val_crops: np.ndarray,
    val_y: np.ndarray,
    config: TrainConfig,
    device: torch.device,
    log: Callable[[str], None],
) -> TrainResult:
    crops = torch.as_tensor(train_crops, dtype=torch.float32)
    y = torch.as_tensor(np.asarray(train_y, dtype=np.float32))
    positives = float(y.sum())
    pos_weight = torch.tensor((len(y) - positives) / max(positives, 1.0), device=device)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * max(1, -(-len(crops) // config.batch_size))
    warmup = min(max(1, -(-len(crops) // config.batch_size)), steps // 2)  # one epoch of linear warm-up
    scheduler = torch.optim.lr_scheduler.SequentialLR(
        optimiser,
        [
            torch.optim.lr_scheduler.LinearLR(optimiser, start_factor=0.1, total_iters=max(warmup, 1)),
            torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(steps - warmup, 1)),
        ],
        milestones=[warmup],
    )
    generator = torch.Generator().manual_seed(config.seed)

    best_auc, best_epoch, best_state, history, waited = -1.0, -1, None, [], 0
    first_eligible = min(config.min_epochs, config.epochs) - 1
    stopped = f"epoch budget of {config.epochs} reached"
    for epoch in range(config.epochs):
        start = time.perf_counter()
        loss = _epoch(model, crops, y, optimiser, scheduler, loss_fn, config, generator, device)
        val_auc = auc(val_y, predict(model, val_crops, device=device))
        history.append({"epoch": epoch, "loss": loss, "val_auc": val_auc})
        log(
            f"{model.name}: epoch {epoch + 1}/{config.epochs}, loss {loss:.4f}, validation AUC {val_auc:.3f}, "
            f"{time.perf_counter() - start:.1f} s"
        )
        if epoch < first_eligible:
            continue
        if best_state is None or val_auc > best_auc:  # NaN (one-class validation) keeps the first epoch
            best_auc, best_epoch, best_state, waited = val_auc, epoch, copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            if waited >= config.patience:
                stopped = f"no better validation AUC for {config.patience} epochs"
                break
    assert best_state is not None
    log(f"{model.name}: stopped after epoch {len(history)} ({stopped}); best epoch {best_epoch + 1}")
    model.load_state_dict(best_state)
    model.eval()
    return TrainResult(model, best_epoch, best_auc, history, stopped)
