"""Image integrity checks Great Expectations cannot express, reported as (column, rule, value).

Rules (limits in ``data_contracts/cohort/images.yaml``): the image is present, within the size
limits (checked from the header, before decoding: decompression bombs), decodes, and is greyscale
or convertible (RGB is accepted, converted and recorded); the mask passes the same, has the image's
size, is not empty, has at least ``min_lesion_pixels`` and covers at most ``max_lesion_fraction``
of the frame. A bad optional second-reader mask does not quarantine the row: it is dropped and the
drop recorded.

Example:
    >>> import numpy as np
    >>> from sonorisk.imaging.codec import encode_png
    >>> limits = load_image_limits()
    >>> image = encode_png(np.arange(400, dtype=np.uint8).reshape(20, 20))
    >>> verdict = check_row_images(image, encode_png(np.zeros((20, 20), np.uint8)), None, limits)
    >>> [(r.column, r.rule) for r in verdict.reasons]
    [('mask_png', 'mask_not_empty')]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from sonorisk.contracts.reasons import Reason
from sonorisk.imaging.codec import ImageError, decode_image, decode_mask
from sonorisk.paths import COHORT_CONTRACT_DIR

CONTRACT = "images"


@dataclass(frozen=True)
class ImageLimits:
    max_side_px: int
    max_pixels: int
    min_lesion_pixels: int
    max_lesion_fraction: float


@dataclass
class ImageVerdict:
    reasons: list[Reason] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    drop_reader2: bool = False


def load_image_limits(path: Path = COHORT_CONTRACT_DIR / "images.yaml") -> ImageLimits:
    raw = yaml.safe_load(path.read_text())
    raw.pop("version", None)
    return ImageLimits(**raw)


def _mask_reasons(
    column: str, data: bytes | None, image_shape: tuple[int, ...] | None, limits: ImageLimits
) -> tuple[list[Reason], list[str]]:
    try:
        mask, notes = decode_mask(data, what=column, max_side=limits.max_side_px, max_pixels=limits.max_pixels)
    except ImageError as problem:
        return [Reason(column, f"mask_{problem.rule}", str(problem), CONTRACT)], []
    reasons = []
    if image_shape is not None and mask.shape != image_shape:
        shown = f"{mask.shape[1]}x{mask.shape[0]} vs image {image_shape[1]}x{image_shape[0]}"
        reasons.append(Reason(column, "mask_same_size_as_image", shown, CONTRACT))
    lesion = int(mask.sum())
    if lesion == 0:
        reasons.append(Reason(column, "mask_not_empty", "0 lesion pixels", CONTRACT))
    elif lesion < limits.min_lesion_pixels:
        reasons.append(Reason(column, "mask_min_lesion_pixels", f"{lesion} lesion pixels", CONTRACT))
    fraction = lesion / mask.size
    if fraction > limits.max_lesion_fraction:
        reasons.append(Reason(column, "mask_not_whole_image", f"lesion covers {fraction:.0%} of the frame", CONTRACT))
    return reasons, notes


def check_row_images(
    image_png: bytes | None, mask_png: bytes | None, reader2_png: bytes | None, limits: ImageLimits
) -> ImageVerdict:
    """Every image-integrity reason for one row, plus the conversions that will be applied."""
    verdict = ImageVerdict()
    shape: tuple[int, ...] | None = None
    try:
        image, notes = decode_image(image_png, "image_png", max_side=limits.max_side_px, max_pixels=limits.max_pixels)
        shape = image.shape
        verdict.notes.extend(notes)
        if int(np.ptp(image)) == 0:
            verdict.reasons.append(
                Reason("image_png", "image_not_blank", f"every pixel is {int(image.flat[0])}", CONTRACT)
            )
    except ImageError as problem:
        verdict.reasons.append(Reason("image_png", f"image_{problem.rule}", str(problem), CONTRACT))
    mask_reasons, mask_notes = _mask_reasons("mask_png", mask_png, shape, limits)
    verdict.reasons.extend(mask_reasons)
    verdict.notes.extend(mask_notes)
    if reader2_png is not None:
        second_reasons, _ = _mask_reasons("mask_reader2_png", reader2_png, shape, limits)
        if second_reasons:
            verdict.drop_reader2 = True
            verdict.notes.append(
                "mask_reader2_png dropped (optional): " + "; ".join(f"{r.rule}: {r.value}" for r in second_reasons)
            )
    return verdict
