"""One factory for every registered model, timm-style: ``create_model(name, **overrides)``.

Importing this module imports ``deep/models.py``, whose ``@register_model`` entry points fill the
registry; the registry itself imports no model, so the two never import each other.

Example:
    >>> sorted(list_models())
    ['resnet34', 'resnet34_vit', 'vit_small']
    >>> model = create_model("vit_small", input_size=32)
    >>> model.preprocess.input_size
    32
"""

from __future__ import annotations

from typing import Any

from sonorisk.deep import models as _entry_points  # noqa: F401  (registers the entry points)
from sonorisk.deep.preprocess import split_overrides
from sonorisk.deep.registry import REGISTRY, ScoredModel


def list_models() -> list[str]:
    return list(REGISTRY)


def create_model(name: str, **overrides: Any) -> ScoredModel:
    """Build a registered model; overrides may set preprocessing fields or architecture options.

    Raises:
        KeyError: unknown model name.
    """
    if name not in list_models():
        raise KeyError(f"unknown model {name!r}; registered: {', '.join(list_models())}")
    preprocess, options = split_overrides(overrides)
    return ScoredModel(name, REGISTRY[name](preprocess, **options), preprocess, options)
