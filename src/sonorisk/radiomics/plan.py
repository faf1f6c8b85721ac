"""The smallest pyradiomics work that yields a given set of features: what nightly scoring runs.

A frozen bundle reads a dozen of the ~750 features its settings define. ``plan_settings`` keeps
everything that shapes a value (resampling, binning, filters and their parameters, mask checks) and
narrows the rest: only the image types that a read feature comes from (LoG only at the sigmas read),
only the feature classes and features read, and for each filtered image (e.g. ``wavelet-LH``) only
the classes and features read *from that image*. The result is a pyradiomics parameter set with one
extra key, ``featuresByImage`` (image name -> class -> features), which ``extract.PlannedExtractor`` walks
with pyradiomics' own steps (``loadImage``, ``checkMask``, the ``get<Type>Image`` filters,
``cropToTumorMask``, ``computeShape``, ``computeFeatures``), so every value is computed by the same
calls, on the same arrays, as in a full ``execute``.

Example:
    >>> from sonorisk.radiomics.settings import load_settings
    >>> wanted = ["wavelet-LH_glcm_Imc2", "log-sigma-2-0-mm-3D_ngtdm_Strength", "original_shape2D_Elongation"]
    >>> planned = plan_settings(load_settings().params, wanted)
    >>> planned["imageType"]  # shape needs no image type: it is computed on the mask
    {'Wavelet': {}, 'LoG': {'sigma': [2.0]}}
    >>> planned["featuresByImage"]["wavelet-LH"]
    {'glcm': ['Imc2']}
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sonorisk.radiomics.extract import PLAN_KEY, SHAPE_IMAGE, feature_names


def split_name(column: str) -> tuple[str, str, str]:
    """``<image>_<class>_<feature>`` -> its three parts (image names use '-', never '_')."""
    parts = column.split("_")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"{column!r} is not a pyradiomics feature name (<image>_<class>_<feature>)")
    image, feature_class, feature = parts
    return image, feature_class, feature


@lru_cache(maxsize=32)
def _images_of(image_type: str, custom_json: str, params_json: str) -> tuple[str, ...]:
    """The image names one image type (with its custom arguments) yields, asked of pyradiomics."""
    params = json.loads(params_json)
    probe = {
        "imageType": {image_type: json.loads(custom_json)},
        "featureClass": {"firstorder": ["Mean"]},
        "setting": params.get("setting", {}),
    }
    return tuple(dict.fromkeys(split_name(n)[0] for n in feature_names(probe)))


def _variants(image_type: str, custom: dict[str, Any]) -> list[dict[str, Any]]:
    """One custom-argument set per separately named output: LoG per sigma, the rest as they are."""
    if image_type == "LoG" and isinstance(custom.get("sigma"), list):
        return [custom | {"sigma": [s]} for s in custom["sigma"]]
    return [custom]


def plan_settings(params: dict[str, Any], wanted: Sequence[str]) -> dict[str, Any]:
    """Narrow ``params`` (a pyradiomics parameter set) to the work that yields ``wanted``.

    Raises:
        ValueError: a wanted feature that ``params`` does not produce (the bundle and its settings
            disagree), or a name that is not a pyradiomics feature name.
    """
    canonical = json.dumps(params, sort_keys=True)
    image_types: dict[str, Any] = params.get("imageType") or {"Original": {}}
    source: dict[str, tuple[str, dict[str, Any]]] = {}  # image name -> (image type, custom args)
    for image_type, custom in image_types.items():
        for variant in _variants(image_type, custom or {}):
            for image in _images_of(image_type, json.dumps(variant, sort_keys=True), canonical):
                source[image] = (image_type, variant)
    by_image: dict[str, dict[str, list[str]]] = {}
    for column in wanted:
        image, feature_class, feature = split_name(column)
        if image not in source and not (feature_class.startswith("shape") and image == SHAPE_IMAGE):
            raise ValueError(f"the models read {column}, but the radiomics settings make no {image!r} image")
        enabled = (params.get("featureClass") or {}).keys()
        if feature_class not in enabled:
            raise ValueError(f"the models read {column}, but the radiomics settings do not enable {feature_class}")
        listed = params["featureClass"][feature_class]
        if listed and feature not in listed:
            raise ValueError(f"the models read {column}, but the radiomics settings do not enable {feature}")
        features = by_image.setdefault(image, {}).setdefault(feature_class, [])
        if feature not in features:
            features.append(feature)

    planned_types: dict[str, Any] = {}
    for image in by_image:
        if image == SHAPE_IMAGE and all(c.startswith("shape") for c in by_image[image]):
            continue  # shape comes from the mask, whichever image types are on
        image_type, variant = source[image]
        if image_type == "LoG":
            sigmas = planned_types.setdefault("LoG", variant | {"sigma": []})["sigma"]
            sigmas.extend(s for s in variant["sigma"] if s not in sigmas)
        else:
            planned_types[image_type] = variant
    if "LoG" in planned_types:  # in the settings' order: the same wanted set, the same settings hash
        order = image_types["LoG"]["sigma"]
        planned_types["LoG"]["sigma"] = sorted(planned_types["LoG"]["sigma"], key=order.index)
    ordered_types = {t: planned_types[t] for t in image_types if t in planned_types}

    classes: dict[str, list[str]] = {}
    for per_class in by_image.values():
        for feature_class, features in per_class.items():
            merged = classes.setdefault(feature_class, [])
            merged.extend(f for f in features if f not in merged)
    planned = copy.deepcopy({k: v for k, v in params.items() if k not in ("imageType", "featureClass")})
    planned["imageType"] = ordered_types
    planned["featureClass"] = {c: classes[c] for c in params["featureClass"] if c in classes}
    planned[PLAN_KEY] = by_image
    return planned
