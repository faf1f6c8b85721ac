"""Bundle-driven extraction (``radiomics/plan.py``) against pyradiomics' full ``execute``, for real.

The reference is pyradiomics itself running the project's full settings; the planned extractor
must return exactly the requested columns with the same values (1e-12 relative), on synthetic
default-study images and on the real BUS-BRA sample.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from sonorisk.radiomics.extract import build_extractor, extract_record, feature_names
from sonorisk.radiomics.plan import plan_settings, split_name
from sonorisk.radiomics.settings import load_settings
from tests.conftest import DEFAULT_BUNDLE_READS, require_busbra

pytestmark = pytest.mark.slow


def _spread_draw(names: list[str], per_image: int, seed: int) -> list[str]:
    """``per_image`` features drawn from every image name (every filter, sigma and sub-band)."""
    rng = np.random.default_rng(seed)
    by_image: dict[str, list[str]] = {}
    for name in names:
        by_image.setdefault(split_name(name)[0], []).append(name)
    return [str(n) for group in by_image.values() for n in rng.choice(group, size=per_image, replace=False)]


def _cases_synthetic(cohort: Path) -> list[tuple[bytes, bytes, float]]:
    rows = pq.read_table(cohort, columns=["image_png", "mask_png", "pixel_spacing_mm"]).to_pylist()
    return [(r["image_png"], r["mask_png"], r["pixel_spacing_mm"]) for r in rows]


def _cases_busbra() -> list[tuple[bytes, bytes, float]]:
    """Every image of the sample with a single-part mask (the few split masks are ingest's business)."""
    root = require_busbra()
    cases = []
    for image in sorted((root / "images").glob("bus_*.png")):
        mask = root / "masks" / f"mask_{image.stem.removeprefix('bus_')}.png"
        if mask.is_file():
            cases.append((image.read_bytes(), mask.read_bytes(), 0.1))  # BUS-BRA records no spacing
    assert len(cases) >= 50, f"only {len(cases)} single-mask BUS-BRA cases"
    return cases


def _assert_parity(cases: list[tuple[bytes, bytes, float]], wanted: list[str], full_params: dict | None = None) -> None:
    full_params = full_params or load_settings().params
    planned_params = plan_settings(full_params, wanted)
    full, planned = build_extractor(full_params), build_extractor(planned_params)
    all_names = feature_names(full_params)
    assert sorted(feature_names(planned_params)) == sorted(wanted)
    for image, mask, spacing in cases:
        reference = extract_record(full, all_names, image, mask, spacing)
        narrowed = extract_record(planned, wanted, image, mask, spacing)
        assert reference["status"] == narrowed["status"] == "ok", (reference["error"], narrowed["error"])
        for name in wanted:
            expected, got = reference[name], narrowed[name]
            assert got == pytest.approx(expected, rel=1e-12, abs=0.0, nan_ok=True), name


def test_default_bundle_features_equal_the_full_extraction_on_synthetic_default_images(
    small_cohort: Path,
) -> None:
    _assert_parity(_cases_synthetic(small_cohort), DEFAULT_BUNDLE_READS)


def test_parity_holds_with_resegmentation_on(small_cohort: Path) -> None:
    """Another study's settings: the mask is resegmented to grey levels >= 30 (shape keeps the
    drawn outline, as pyradiomics does unless ``resegmentShape``)."""
    params = load_settings().params
    for shape_too in (False, True):
        resegmented = params | {"setting": params["setting"] | {"resegmentRange": [30], "resegmentShape": shape_too}}
        _assert_parity(_cases_synthetic(small_cohort)[:4], DEFAULT_BUNDLE_READS, resegmented)


def test_a_draw_from_every_filter_and_class_equals_the_full_extraction_on_busbra() -> None:
    names = feature_names(load_settings().params)
    wanted = _spread_draw(names, per_image=4, seed=18)
    wanted += _spread_draw([n for n in names if "_shape2D_" in n], per_image=2, seed=18)
    classes = {split_name(n)[1] for n in wanted}
    assert classes == {"shape2D", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm"}
    cases = _cases_busbra()
    _assert_parity(cases, wanted)
    _assert_parity(cases, DEFAULT_BUNDLE_READS)


def test_a_feature_the_settings_do_not_make_is_refused_by_name() -> None:
    params = load_settings().params
    with pytest.raises(ValueError, match="log-sigma-9-0-mm-3D"):
        plan_settings(params, ["log-sigma-9-0-mm-3D_firstorder_Mean"])
    with pytest.raises(ValueError, match="not a pyradiomics feature name"):
        plan_settings(params, ["age"])
    narrowed = params | {"featureClass": {"firstorder": ["Mean"]}}
    with pytest.raises(ValueError, match="glcm"):
        plan_settings(narrowed, ["original_glcm_Imc2"])
