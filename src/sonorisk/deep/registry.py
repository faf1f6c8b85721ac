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
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from sonorisk.deep.preprocess import Preprocess


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
