"""How a case becomes a model input: a small typed config, free of torch so CPU decode workers
(which only crop PNGs) never import it.

Example:
    >>> Preprocess(input_size=32).as_dict()["input_size"]
    32
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Preprocess:
    """How a case becomes a model input (shared by training and scoring).

    Attributes:
        input_size: side of the square input, pixels.
        crop_margin: margin around the lesion's bounding box, as a fraction of its larger side.
        in_chans: channels the network expects (the grey image is repeated).
        mean, std: normalisation of the [0, 1] grey values (``normalise="fixed"``).
        normalise: "fixed" (``mean`` and ``std`` for every crop) or "per_image" (each crop by its own
            mean and standard deviation, which removes a scanner's overall gain and, to first order,
            its dynamic range: the lesion is then read relative to the tissue around it).
    """

    input_size: int = 64
    crop_margin: float = 0.5
    in_chans: int = 3
    mean: float = 0.35
    std: float = 0.25
    normalise: str = "fixed"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def split_overrides(overrides: dict[str, Any]) -> tuple[Preprocess, dict[str, Any]]:
    """A model's overrides as (its preprocessing, the remaining architecture options).

    Example:
        >>> split_overrides({"input_size": 32, "depth": 2})
        (Preprocess(input_size=32, crop_margin=0.5, in_chans=3, mean=0.35, std=0.25, normalise='fixed'), {'depth': 2})
    """
    names = {f.name for f in fields(Preprocess)}
    preprocess = replace(Preprocess(), **{k: v for k, v in overrides.items() if k in names})
    return preprocess, {k: v for k, v in overrides.items() if k not in names}
