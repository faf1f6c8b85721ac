"""Region-of-interest crops around a lesion, as pure array functions.

Example:
    >>> import numpy as np
    >>> image = np.arange(100, dtype=np.uint8).reshape(10, 10)
    >>> mask = np.zeros((10, 10), bool); mask[4:6, 4:6] = True
    >>> lesion_box(mask, margin=0.5)
    (3, 3, 7, 7)
    >>> roi_crop(image, mask, margin=0.5, size=4).shape
    (4, 4)
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def lesion_box(mask: np.ndarray, margin: float) -> tuple[int, int, int, int]:
    """A square box (top, left, bottom, right; exclusive) around the mask's bounding box, enlarged
    by ``margin`` x its larger side on every side, clipped to the image.

    Raises:
        ValueError: the mask is empty.
    """
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        raise ValueError("the mask has no lesion pixels")
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    side = max(bottom - top, right - left)
    half = side * (0.5 + margin)
    centre_r, centre_c = (top + bottom) / 2.0, (left + right) / 2.0
    box = (
        int(np.floor(centre_r - half)),
        int(np.floor(centre_c - half)),
        int(np.ceil(centre_r + half)),
        int(np.ceil(centre_c + half)),
    )
    height, width = mask.shape
    return max(box[0], 0), max(box[1], 0), min(box[2], height), min(box[3], width)


def roi_crop(image: np.ndarray, mask: np.ndarray, margin: float, size: int) -> np.ndarray:
    """The lesion's neighbourhood resized to ``size`` x ``size``, float32 in [0, 1].

    The crop keeps the posterior region (below the lesion) within the margin, where shadowing shows.
    Non-square crops at the image border are padded with zeros (outside the field of view).
    """
    top, left, bottom, right = lesion_box(mask, margin)
    crop = image[top:bottom, left:right].astype(np.float32)
    scale = 255.0 if image.dtype == np.uint8 else float(max(np.iinfo(image.dtype).max, 1))
    side = max(crop.shape)
    square = np.zeros((side, side), np.float32)
    square[: crop.shape[0], : crop.shape[1]] = crop / scale
    resized = Image.fromarray(square, mode="F").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.float32)
