"""Cases -> model inputs: decode, crop the lesion's neighbourhood, grey -> channels, normalise.

Shared by training, the plain scoring loop and the Ray Data decode stage, so all three see the same
pixels for the same case.

Example:
    >>> import numpy as np
    >>> from sonorisk.deep.preprocess import Preprocess
    >>> x = to_network_input(np.full((2, 8, 8), 0.35, np.float32), Preprocess(input_size=8))
    >>> tuple(x.shape), float(x.abs().max())
    ((2, 3, 8, 8), 0.0)
"""

from __future__ import annotations

import numpy as np
import torch

from sonorisk.deep.crops import crop_case, crop_cases
from sonorisk.deep.preprocess import Preprocess

__all__ = ["crop_case", "crop_cases", "to_network_input"]


def to_network_input(crops: np.ndarray | torch.Tensor, preprocess: Preprocess) -> torch.Tensor:
    """(N, S, S) grey crops in [0, 1] -> normalised (N, C, S, S) float32 tensor."""
    x = torch.as_tensor(crops, dtype=torch.float32)
    x = (x - preprocess.mean) / preprocess.std
    return x.unsqueeze(1).expand(-1, preprocess.in_chans, -1, -1).contiguous()
