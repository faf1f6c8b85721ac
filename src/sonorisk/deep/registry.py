"""The model registry, timm-style: ``@register_model`` entry points (``deep/models.py``) land in
one table; ``deep/factory.py`` builds them. Each model carries its own preprocessing config, so
training and scoring build their inputs from the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
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
REGISTRY: dict[str, Builder] = {}


def register_model(builder: Builder) -> Builder:
    """Register ``builder(preprocess, **options) -> nn.Module`` under its function name."""
    REGISTRY[builder.__name__] = builder
    return builder
