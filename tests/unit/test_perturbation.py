"""The perturbation robustness screen: seeded and deterministic, and it drops a feature that depends
on exactly where the outline runs while keeping one that does not (real pyradiomics extraction)."""

from __future__ import annotations

import numpy as np
import pytest

from sonorisk.imaging.codec import encode_png
from sonorisk.radiomics.extract import build_extractor, extract_record
from sonorisk.radiomics.perturbation import PerturbationSettings, perturb, perturbation_iccs
from sonorisk.radiomics.robustness import icc_1_1

_FIRST_ORDER = {
    "imageType": {"Original": {}},
    "featureClass": {"firstorder": ["Median", "Maximum"]},
    "setting": {"binWidth": 4, "force2D": True, "label": 1},
}


def test_icc_1_1_matches_the_shrout_fleiss_table() -> None:
    # Shrout & Fleiss (1979), Table 2: six targets rated by four judges; ICC(1,1) = 0.17.
    ratings = np.array(
        [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float
    )
    assert icc_1_1(ratings) == pytest.approx(0.17, abs=0.005)


def test_perturbations_are_seeded_per_case_and_index() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (60, 60), dtype=np.uint8)
    mask = np.zeros((60, 60), bool)
    mask[20:40, 18:44] = True
    settings = PerturbationSettings()
    first = perturb(image, mask, settings, "c|p1", 2)
    again = perturb(image, mask, settings, "c|p1", 2)
    other_case = perturb(image, mask, settings, "c|p2", 2)
    other_index = perturb(image, mask, settings, "c|p1", 3)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]
    assert first[2] != other_case[2] or not np.array_equal(first[0], other_case[0])
    assert first[2] != other_index[2] or not np.array_equal(first[0], other_index[0])
    assert first[0].dtype == image.dtype and first[1].any()
    reseeded = perturb(image, mask, PerturbationSettings(seed=32), "c|p1", 2)
    assert reseeded[2] != first[2] or not np.array_equal(reseeded[0], first[0])


def _lesion_with_a_bright_rim(interior: float, rng: np.random.Generator) -> tuple[bytes, bytes]:
    """A homogeneous lesion whose outline hugs a one-pixel bright rim just outside it: whether the
    rim enters the ROI depends only on where the outline runs."""
    image = np.full((64, 64), 30.0)
    image[18:46, 16:48] = 250.0  # the rim ring, one pixel wide once the interior is drawn
    image[19:45, 17:47] = interior + rng.normal(0, 2.0, (26, 30))
    mask = np.zeros((64, 64), np.uint8)
    mask[19:45, 17:47] = 255
    return encode_png(np.clip(image, 0, 255).astype(np.uint8)), encode_png(mask)


def test_a_feature_that_depends_on_the_outline_is_dropped_and_a_stable_one_kept() -> None:
    rng = np.random.default_rng(7)
    extractor = build_extractor(_FIRST_ORDER)
    names = ["original_firstorder_Median", "original_firstorder_Maximum"]
    settings = PerturbationSettings(count=4, rotation_deg=0.0, translation_px=0, noise_fraction=0.0)
    values = np.zeros((16, settings.count, len(names)))
    for case in range(16):
        image, mask = _lesion_with_a_bright_rim(float(rng.uniform(60, 160)), rng)
        for k in range(settings.count):

            def transform(i: np.ndarray, m: np.ndarray, k: int = k, case: int = case) -> tuple[np.ndarray, np.ndarray]:
                return perturb(i, m, settings, f"c|{case}", k)[:2]

            record = extract_record(extractor, names, image, mask, 0.1, transform)
            assert record["status"] == "ok", record["error"]
            values[case, k] = [record[n] for n in names]
    median_icc, maximum_icc = perturbation_iccs(values)
    assert median_icc >= settings.icc_threshold  # the lesion's grey level: set by the case, not the outline
    assert maximum_icc < settings.icc_threshold  # 250 when a dilation takes in the rim, else the interior
