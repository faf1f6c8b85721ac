"""A registry of models and one factory, timm-style: ``@register_model`` entry points and
``create_model(name, **overrides)``. Each model carries its own preprocessing config, so training
and scoring build their inputs from the same numbers.

Example:
    >>> sorted(list_models())
    ['resnet34', 'resnet34_vit', 'vit_small']
    >>> model = create_model("vit_small", input_size=32)
    >>> model.preprocess.input_size
    32
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class Preprocess:
    """How a case becomes a model input (shared by training and scoring).

    Attributes:
        input_size: side of the square input, pixels.
        crop_margin: margin around the lesion's bounding box, as a fraction of its larger side.
        in_chans: channels the network expects (the grey image is repeated).
        mean, std: normalisation of the [0, 1] grey values.
    """

    input_size: int = 64
    crop_margin: float = 0.5
    in_chans: int = 3
    mean: float = 0.35
    std: float = 0.25

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ScoredModel(nn.Module):
    """A network returning one logit per image, with its preprocessing and construction recipe."""

    def __init__(self, name: str, network: nn.Module, preprocess: Preprocess, options: dict[str, Any]) -> None:
        super().__init__()
        self.name = name
        self.network = network
        self.preprocess = preprocess
        self.options = options

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x).reshape(-1)


Builder = Callable[..., nn.Module]
_REGISTRY: dict[str, Builder] = {}


def register_model(builder: Builder) -> Builder:
    """Register ``builder(preprocess, **options) -> nn.Module`` under its function name."""
    _REGISTRY[builder.__name__] = builder
    return builder


def list_models() -> list[str]:
    from sonorisk.deep import models  # noqa: F401  (registers the entry points)

    return list(_REGISTRY)


def create_model(name: str, **overrides: Any) -> ScoredModel:
    """Build a registered model; overrides may set preprocessing fields or architecture options.

    Raises:
        KeyError: unknown model name.
    """
    if name not in list_models():
        raise KeyError(f"unknown model {name!r}; registered: {', '.join(list_models())}")
    fields = set(Preprocess.__dataclass_fields__)
    preprocess = replace(Preprocess(), **{k: v for k, v in overrides.items() if k in fields})
    options = {k: v for k, v in overrides.items() if k not in fields}
    return ScoredModel(name, _REGISTRY[name](preprocess, **options), preprocess, options)
