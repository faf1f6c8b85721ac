"""Cases -> lesion crops (decode PNG, crop the lesion's neighbourhood, resize): the CPU stage of
training and scoring. Imports no torch, so Ray decode tasks start fast and stay small.

Example:
    >>> import numpy as np
    >>> from sonorisk.imaging.codec import encode_png
    >>> image = encode_png(np.full((20, 20), 128, np.uint8))
    >>> mask = np.zeros((20, 20), np.uint8); mask[8:12, 8:12] = 255
    >>> out = DecodeCrop({"input_size": 8})({"image_png": np.array([image, b"junk"], dtype=object),
    ...                                     "mask_png": np.array([encode_png(mask)] * 2, dtype=object)})
    >>> out["pixels"].shape, out["crop_error"][0], out["crop_error"][1][:10]
    ((2, 8, 8), '', 'ImageError')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sonorisk.deep.preprocess import Preprocess
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


class DecodeCrop:
    """PNG bytes -> lesion crops, per batch (a CPU stage)."""

    def __init__(self, preprocess: dict[str, Any]) -> None:
        self.preprocess = Preprocess(**preprocess)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        crops, errors = [], []
        for image, mask in zip(batch["image_png"], batch["mask_png"], strict=True):
            crop, error = crop_case(image, mask, self.preprocess)
            crops.append(crop)
            errors.append(error or "")
        out = {k: v for k, v in batch.items() if k not in ("image_png", "mask_png")}
        size = self.preprocess.input_size
        out["pixels"] = np.stack(crops) if crops else np.zeros((0, size, size), np.float32)
        out["crop_error"] = np.array(errors, dtype=object)
        return out


def decode_crop_batch(batch: dict[str, np.ndarray], preprocess: dict[str, Any]) -> dict[str, np.ndarray]:
    """The CPU stage as a plain function (Ray Data runs functions as tasks)."""
    return DecodeCrop(preprocess)(batch)
