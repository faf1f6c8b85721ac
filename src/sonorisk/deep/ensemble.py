"""k fold models scored as one model.

Each fold model has its own offset and spread (modelling/oof.py shows why pooling unaligned fold
scores misleads fusion). A member's logit is therefore standardised by the mean and standard
deviation of its own held-out fold's logits, the standardised logits are averaged, and the mean is
put back on the pooled out-of-fold scale (the mean of the members' centres and spreads). The
out-of-fold DL Scores fusion learns from are made the same way, from the same folds, so both live on
one scale. No row outside the training split is read to fix these numbers.

Example:
    >>> import torch
    >>> members = [torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)]
    >>> for m, (w, b) in zip(members, [(1.0, 0.0), (2.0, 4.0)]):
    ...     _ = m.weight.data.fill_(w), m.bias.data.fill_(b)
    >>> ensemble = FoldEnsemble(members, [Standardise(0.0, 1.0), Standardise(4.0, 2.0)], Standardise(2.0, 1.5))
    >>> ensemble(torch.tensor([[3.0]])).tolist()  # both members read z = 3: 3 * 1.5 + 2
    [6.5]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class Standardise:
    """A logit's centre and spread: ``z = (logit - centre) / scale``."""

    centre: float = 0.0
    scale: float = 1.0

    @classmethod
    def of(cls, logits: np.ndarray) -> Standardise:
        """The mean and standard deviation of ``logits`` (spread 1 when they have none)."""
        values = np.asarray(logits, dtype=np.float64)
        spread = float(values.std()) if values.size > 1 else 0.0
        return cls(float(values.mean()) if values.size else 0.0, spread if spread > 0 else 1.0)

    @classmethod
    def pooled(cls, members: list[Standardise]) -> Standardise:
        return cls(float(np.mean([m.centre for m in members])), float(np.mean([m.scale for m in members])))

    def as_dict(self) -> dict[str, float]:
        return {"centre": self.centre, "scale": self.scale}

    @property
    def identity(self) -> bool:
        return self.centre == 0.0 and self.scale == 1.0


class FoldEnsemble(nn.Module):
    """Members' standardised logits, averaged, on the pooled out-of-fold scale (one logit per image).

    The standardisation numbers are plain floats, not buffers: the state dict holds the members'
    weights only, one safetensors file per member (``deep/model_io.py``).
    """

    def __init__(self, members: list[nn.Module], standardise: list[Standardise], output: Standardise) -> None:
        super().__init__()
        if len(members) != len(standardise) or not members:
            raise ValueError(f"{len(members)} members but {len(standardise)} standardisations")
        self.members = nn.ModuleList(members)
        self.standardise = list(standardise)
        self.output = output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # One plain model never becomes an ensemble: load_model returns it as itself.
        z = [(m(x).reshape(-1) - s.centre) / s.scale for m, s in zip(self.members, self.standardise, strict=True)]
        return torch.stack(z).mean(0) * self.output.scale + self.output.centre
