"""One pyradiomics call per case, wrapped: decode, geometry, errors as data, fixed columns.

Every feature table has the same columns whatever happens to individual cases: the feature names
are those the settings produce on a reference phantom, and a case that fails gets nulls, status
``error`` and the reason in the ``error`` column. Feature columns keep pyradiomics' names
``<imagetype>_<class>_<feature>``.

Example:
    >>> import numpy as np
    >>> from sonorisk.radiomics.settings import load_settings
    >>> image = (np.arange(64 * 64).reshape(64, 64) % 97).astype(np.uint8)
    >>> mask = np.zeros((64, 64), bool); mask[16:48, 20:44] = True
    >>> features = extract_case(build_extractor(load_settings().params), image, mask, 0.15)
    >>> round(features["original_shape2D_PixelSurface"], 1)  # mm^2: 32 x 24 pixels of 0.15 mm
    17.3
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from sonorisk.imaging.codec import ImageError, decode_image, decode_mask

PLAN_KEY = "featuresByImage"  # planned settings (radiomics/plan.py): image name -> class -> features
SHAPE_IMAGE = "original"  # pyradiomics names shape features after the unfiltered image
STATUS_OK = "ok"
STATUS_FAILED = "error"  # the case could not be extracted; the reason is in `error`


def _quiet() -> None:
    import radiomics

    radiomics.setVerbosity(logging.ERROR)
    logging.getLogger("radiomics").setLevel(logging.ERROR)


def build_extractor(params: dict[str, Any]) -> Any:
    """A pyradiomics extractor configured from a parsed parameter file; for planned settings
    (``plan.plan_settings``) one that computes only the planned features."""
    from radiomics import featureextractor

    _quiet()
    if PLAN_KEY in params:
        return PlannedExtractor(dict(params))
    return featureextractor.RadiomicsFeatureExtractor(dict(params))


class PlannedExtractor:
    """``execute(image, mask)`` as pyradiomics' segment-based ``execute``, computing only the
    features of ``params[featuresByImage]`` (diagnostics are not produced)."""

    def __init__(self, params: dict[str, Any]) -> None:
        from radiomics import featureextractor

        self.by_image: dict[str, dict[str, list[str]]] = params[PLAN_KEY]
        self.pyradiomics = featureextractor.RadiomicsFeatureExtractor(
            {k: v for k, v in params.items() if k != PLAN_KEY}
        )

    def execute(self, image: Any, mask: Any) -> dict[str, float]:
        from radiomics import imageoperations

        extractor = self.pyradiomics
        settings = extractor.settings.copy()
        extractor._setTolerance()  # what execute() does first: the geometry tolerance is module state
        image, mask = extractor.loadImage(image, mask, None, **settings)
        box, corrected = imageoperations.checkMask(image, mask, **settings)
        if corrected is not None:
            mask = corrected
        resegmented = None  # the same mask and box rules as execute() when resegmentation is on
        if settings.get("resegmentRange") is not None:
            resegmented = imageoperations.resegmentMask(image, mask, **settings)
            box, _ = imageoperations.checkMask(image, resegmented, **settings)
            if settings.get("resegmentShape", False):
                mask = resegmented
        values: dict[str, float] = collections.OrderedDict()
        shape = {c: f for c, f in self.by_image.get(SHAPE_IMAGE, {}).items() if c.startswith("shape")}
        if shape:
            extractor.enabledFeatures = shape
            values.update(extractor.computeShape(image, mask, box, **settings))
        if resegmented is not None:
            mask = resegmented
        for image_type, custom in extractor.enabledImagetypes.items():
            generator = getattr(imageoperations, f"get{image_type}Image")(image, mask, **(settings | custom))
            for filtered, name, kwargs in generator:
                wanted = {c: f for c, f in self.by_image.get(name, {}).items() if not c.startswith("shape")}
                if not wanted:
                    continue
                cropped, cropped_mask = imageoperations.cropToTumorMask(filtered, mask, box)
                extractor.enabledFeatures = wanted
                values.update(extractor.computeFeatures(cropped, cropped_mask, name, **kwargs))
        return values


def to_sitk(array: np.ndarray, spacing_mm: float, is_mask: bool = False) -> Any:
    """A 2-D SimpleITK image with isotropic spacing (row = y, column = x)."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(array.astype(np.uint8) if is_mask else array.astype(np.float32))
    image.SetSpacing((float(spacing_mm), float(spacing_mm)))
    return image


def extract_images(extractor: Any, image: Any, mask: Any) -> dict[str, float]:
    """Run pyradiomics on SimpleITK images; return only the feature values (no diagnostics)."""
    result = extractor.execute(image, mask)
    return {k: float(v) for k, v in result.items() if not k.startswith("diagnostics_")}


def extract_case(extractor: Any, image: np.ndarray, mask: np.ndarray, spacing_mm: float) -> dict[str, float]:
    """Features of one 2-D image inside its binary mask."""
    return extract_images(extractor, to_sitk(image, spacing_mm), to_sitk(mask, spacing_mm, is_mask=True))


@lru_cache(maxsize=8)
def _feature_names_cached(params_json: str) -> tuple[str, ...]:
    import json

    params = json.loads(params_json)
    extractor = build_extractor(params)
    size = 96
    yy, xx = np.mgrid[0:size, 0:size]
    image = (60 + 40 * np.sin(xx / 3.0) + 30 * np.cos(yy / 5.0) + (xx * yy) % 17).astype(np.float32)
    mask = (yy - size / 2) ** 2 / 30**2 + (xx - size / 2) ** 2 / 22**2 <= 1.0
    return tuple(extract_case(extractor, image, mask, 0.15))


def feature_names(params: dict[str, Any]) -> list[str]:
    """The feature columns these settings produce, in pyradiomics' order."""
    import json

    return list(_feature_names_cached(json.dumps(params, sort_keys=True)))


Transform = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def extract_record(
    extractor: Any,
    names: list[str],
    image_png: bytes | None,
    mask_png: bytes | None,
    spacing_mm: float | None,
    transform: Transform | None = None,
) -> dict[str, Any]:
    """Features of one cohort row as a flat record with ``status`` and ``error``; never raises.

    ``transform`` (image, mask) -> (image, mask) runs on the decoded arrays before extraction (an
    image perturbation, ``radiomics/perturbation.py``).
    """
    record: dict[str, Any] = dict.fromkeys(names)
    try:
        if spacing_mm is None or not spacing_mm > 0:
            raise ValueError(f"pixel spacing {spacing_mm!r} is not a positive number")
        image, _ = decode_image(image_png, "image_png")
        mask, _ = decode_mask(mask_png, what="mask")
        if image.shape != mask.shape:
            raise ValueError(f"mask {mask.shape} and image {image.shape} differ in size")
        if transform is not None:
            image, mask = transform(image, mask)
        values = extract_case(extractor, image, mask, spacing_mm)
        missing = [n for n in names if n not in values]
        if missing:
            raise ValueError(f"pyradiomics returned no {missing[0]} (and {len(missing) - 1} more)")
        record.update({n: values[n] for n in names})
        record.update(status=STATUS_OK, error=None, roi_pixels=int(mask.sum()))
    except (ImageError, ValueError, RuntimeError, IndexError, ZeroDivisionError) as exc:
        record = dict.fromkeys(names)
        record.update(status=STATUS_FAILED, error=f"{type(exc).__name__}: {exc}"[:500], roi_pixels=None)
    return record
