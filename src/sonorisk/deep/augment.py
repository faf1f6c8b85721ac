"""Seeded, speckle-preserving augmentation of lesion crops.

Only transformations that keep ultrasound physics plausible: a lateral (left-right) flip, never a
vertical one (depth has a direction: shadows fall below lesions); small rotations (probe tilt);
gain and contrast jitter, which in the log-compressed image are what a sonographer's gain and
dynamic-range knobs do. No blur and no additive noise, which would change the speckle statistics the
networks can learn from. Every draw comes from the ``torch.Generator`` passed in.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.rand(4, 16, 16, generator=torch.Generator().manual_seed(1))
    >>> augment(x, g).shape
    torch.Size([4, 16, 16])
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812


def augment(
    crops: torch.Tensor,
    generator: torch.Generator,
    max_rotation_deg: float = 8.0,
    gain: float = 0.06,
    contrast: float = 0.1,
) -> torch.Tensor:
    """Augment (N, S, S) grey crops in [0, 1]."""
    n = crops.shape[0]
    x = crops.clone()
    flip = torch.rand(n, generator=generator) < 0.5
    x[flip] = torch.flip(x[flip], dims=(-1,))
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(max_rotation_deg)
    cos, sin = torch.cos(angle), torch.sin(angle)
    zeros = torch.zeros(n)
    theta = torch.stack([torch.stack([cos, -sin, zeros], 1), torch.stack([sin, cos, zeros], 1)], 1)
    grid = F.affine_grid(theta, [n, 1, *x.shape[-2:]], align_corners=False)
    x = F.grid_sample(x.unsqueeze(1), grid, mode="bilinear", padding_mode="reflection", align_corners=False)[:, 0]
    shift = (torch.rand(n, 1, 1, generator=generator) * 2 - 1) * gain
    scale = 1 + (torch.rand(n, 1, 1, generator=generator) * 2 - 1) * contrast
    mean = x.mean(dim=(-2, -1), keepdim=True)
    return ((x - mean) * scale + mean + shift).clamp(0.0, 1.0)
