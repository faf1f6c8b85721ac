"""Cases -> model inputs: decode, crop the lesion's neighbourhood, grey -> channels, normalise.

Shared by training, the plain scoring loop and the Ray Data decode stage, so all three see the same
pixels for the same case.

Example:
    >>> import numpy as np
    >>> from sonorisk.deep.registry import Preprocess
    >>> x = to_network_input(np.full((2, 8, 8), 0.35, np.float32), Preprocess(input_size=8))
    >>> tuple(x.shape), float(x.abs().max())
    ((2, 3, 8, 8), 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from sonorisk.deep.registry import Preprocess
from sonorisk.imaging.codec import ImageError, decode_image, decode_mask
from sonorisk.imaging.roi import roi_crop


def crop_case(image_png: bytes | None, mask_png: bytes | None, preprocess: Preprocess) -> tuple[np.ndarray, str | None]:
    """One case as an (S, S) float32 crop in [0, 1], or zeros and the reason it could not be made."""
    size = preprocess.input_size
    try:
        image, _ = decode_image(image_png, "image_png")
        mask, _ = decode_mask(mask_png, what="mask_png")
        if image.shape != mask.shape:
            raise ValueError(f"mask {mask.shape} and image {image.shape} differ in size")
        return roi_crop(image, mask, preprocess.crop_margin, size), None
    except (ImageError, ValueError, OSError) as exc:
        return np.zeros((size, size), np.float32), f"{type(exc).__name__}: {exc}"[:300]


def crop_cases(rows: Sequence[dict[str, Any]], preprocess: Preprocess) -> tuple[np.ndarray, list[str | None]]:
    """Crops of many cases (N, S, S) and a reason per case (None when it worked)."""
    crops, errors = zip(*(crop_case(r["image_png"], r["mask_png"], preprocess) for r in rows), strict=True)
    return np.stack(crops).astype(np.float32), list(errors)


def to_network_input(crops: np.ndarray | torch.Tensor, preprocess: Preprocess) -> torch.Tensor:
    """(N, S, S) grey crops in [0, 1] -> normalised (N, C, S, S) float32 tensor."""
    x = torch.as_tensor(crops, dtype=torch.float32)
    x = (x - preprocess.mean) / preprocess.std
    return x.unsqueeze(1).expand(-1, preprocess.in_chans, -1, -1).contiguous()
