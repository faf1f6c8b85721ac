"""Hospitals of the synthetic study: their scanners and their case mix.

Centres differ in what the external validation must survive: probe frequency (speckle size), gain,
dynamic range, noise, image size and pixel spacing, and the patients they treat.

Example:
    >>> parse_centres("A=250,B=111")
    [('A', 250), ('B', 111)]
    >>> parse_centres("A,B", n=100)
    [('A', 69), ('B', 31)]
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sonorisk.synthetic.bmode import ScannerSettings


@dataclass(frozen=True)
class CentreProfile:
    """One hospital: its scanner preset, image geometry and case mix.

    Attributes:
        name: the value written to the ``center`` column.
        default_n: patients drawn when only the centre names are given (sets the proportions).
        scanner: probe and display settings.
        image_shape: (rows, columns) of the exported images.
        pixel_spacing_mm: spacing at the default depth setting; deeper settings for large lesions
            give coarser spacing.
        subtype_mix: probabilities of luminal A, luminal B, HER2-enriched, triple-negative.
        age_mean: mean age at surgery.
        size_median_mm: median tumour diameter.
        surgery_from, surgery_to: the accrual window.
    """

    name: str
    default_n: int
    scanner: ScannerSettings
    image_shape: tuple[int, int]
    pixel_spacing_mm: float
    subtype_mix: tuple[float, float, float, float]
    age_mean: float
    size_median_mm: float
    surgery_from: dt.date
    surgery_to: dt.date


CENTRES: dict[str, CentreProfile] = {
    "A": CentreProfile(
        name="A",
        default_n=250,
        scanner=ScannerSettings(probe_mhz=12.0, gain_db=0.0, dynamic_range_db=50.0, noise_db=-52.0),
        image_shape=(320, 400),
        pixel_spacing_mm=0.125,
        subtype_mix=(0.40, 0.25, 0.15, 0.20),
        age_mean=54.0,
        size_median_mm=19.0,
        surgery_from=dt.date(2016, 1, 1),
        surgery_to=dt.date(2022, 12, 31),
    ),
    "B": CentreProfile(
        name="B",
        default_n=111,
        scanner=ScannerSettings(
            probe_mhz=9.0,
            fractional_bandwidth=0.55,
            gain_db=3.0,
            dynamic_range_db=44.0,
            noise_db=-44.0,
            tgc_error_db_per_cm=-0.5,
            speckle_reduction_px=1.0,
        ),
        image_shape=(288, 352),
        pixel_spacing_mm=0.15,
        subtype_mix=(0.36, 0.26, 0.16, 0.22),
        age_mean=51.5,
        size_median_mm=21.0,
        surgery_from=dt.date(2018, 1, 1),
        surgery_to=dt.date(2023, 6, 30),
    ),
    "C": CentreProfile(
        name="C",
        default_n=150,
        scanner=ScannerSettings(
            probe_mhz=14.0, gain_db=-2.0, dynamic_range_db=56.0, noise_db=-55.0, tgc_error_db_per_cm=-2.5
        ),
        image_shape=(352, 448),
        pixel_spacing_mm=0.11,
        subtype_mix=(0.44, 0.24, 0.13, 0.19),
        age_mean=57.0,
        size_median_mm=17.0,
        surgery_from=dt.date(2017, 1, 1),
        surgery_to=dt.date(2023, 12, 31),
    ),
    "D": CentreProfile(
        name="D",
        default_n=120,
        scanner=ScannerSettings(
            probe_mhz=7.5, fractional_bandwidth=0.5, gain_db=5.0, dynamic_range_db=48.0, noise_db=-42.0
        ),
        image_shape=(256, 320),
        pixel_spacing_mm=0.17,
        subtype_mix=(0.34, 0.25, 0.17, 0.24),
        age_mean=50.0,
        size_median_mm=23.0,
        surgery_from=dt.date(2019, 1, 1),
        surgery_to=dt.date(2024, 6, 30),
    ),
}


@dataclass(frozen=True)
class SynthCohortParams:
    """One entry of ``synth.cohorts`` in params.yaml: a synthetic cohort of the study."""

    seed: int
    centres: str  # "A=250,B=111" (parse_centres)
    labels: bool = True  # false: the outcome column is withheld (an unlabelled archive)
    second_reader: bool = False  # a second reader's outlines for the ICC screen


@dataclass(frozen=True)
class SynthParams:
    """The ``synth:`` section of params.yaml."""

    cohorts: dict[str, SynthCohortParams] = field(default_factory=dict)


def parse_centres(spec: str, n: int | None = None) -> list[tuple[str, int]]:
    """Parse ``A=250,B=111`` (explicit counts) or ``A,B`` (``n`` split by the default proportions).

    Args:
        spec: comma-separated centre names, each optionally ``=count``.
        n: total patients when counts are not given; defaults to the centres' default sizes.

    Raises:
        ValueError: an unknown centre, a bad count, or both counts and ``n`` given.
    """
    items = [part.strip() for part in spec.split(",") if part.strip()]
    if not items:
        raise ValueError("--centres names no centre; e.g. 'A=250,B=111' or 'A,B'")
    names, counts = [], []
    for item in items:
        name, _, count = item.partition("=")
        if name not in CENTRES:
            raise ValueError(f"unknown centre {name!r}; known centres: {', '.join(CENTRES)}")
        names.append(name)
        if count:
            if not count.isdigit() or int(count) < 1:
                raise ValueError(f"centre {name}: count must be a positive integer, got {count!r}")
            counts.append(int(count))
    if len(set(names)) != len(names):
        raise ValueError(f"a centre is named twice in {spec!r}")
    if counts and len(counts) != len(names):
        raise ValueError(f"give a count for every centre or for none: {spec!r}")
    if counts:
        if n is not None and n != sum(counts):
            raise ValueError(f"--n {n} disagrees with the counts in --centres ({sum(counts)})")
        return list(zip(names, counts, strict=True))
    weights = [CENTRES[name].default_n for name in names]
    total = sum(weights) if n is None else n
    if total < len(names):
        raise ValueError(f"--n {total} is smaller than the number of centres ({len(names)})")
    shares = [max(1, round(total * w / sum(weights))) for w in weights]
    shares[0] += total - sum(shares)  # keep the total exact
    return list(zip(names, shares, strict=True))
