"""Drift per run on real images: another centre's scanner is flagged, the development centre is not.

Real synthetic cohorts (the B-mode simulator, ``docs/synthetic.md``), real pyradiomics through Ray
with the bundle-narrowed settings, and the drift functions nightly scoring runs (``risk/drift.py``):
the reference is built from 250 development-centre patients as the bundle stage builds it.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from sonorisk.radiomics.fanout import extract_with_ray
from sonorisk.radiomics.plan import plan_settings
from sonorisk.radiomics.settings import from_params, load_settings
from sonorisk.risk.drift import DEFAULT_MIN_ROWS, DEFAULT_THRESHOLD, build_reference, render_text, run_drift
from tests.conftest import DEFAULT_BUNDLE_READS

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("centres")]

CLINICAL = ["age", "tumor_size_mm", "histologic_grade", "ki67_pct", "t_stage", "molecular_subtype", "lvi"]


@pytest.fixture(scope="module")
def frames(synthetic_centres: dict[str, Path], ray_local) -> dict[str, dict[str, pl.DataFrame]]:
    """Features and clinical fields of: the development centre (reference), a new cohort from the
    same centre, and a cohort from centre D (another scanner: 7.5 MHz probe, other gain and noise)."""
    settings = from_params(plan_settings(load_settings().params, DEFAULT_BUNDLE_READS))
    result = {}
    for name in ("development", "same_centre", "other_scanner"):
        path = synthetic_centres[name]
        features = pl.from_arrow(extract_with_ray(path, settings, progress=False).table)
        fields = pl.read_parquet(path, columns=CLINICAL)
        assert isinstance(features, pl.DataFrame) and (features["status"] == "ok").all()
        result[name] = {"image feature": features, "clinical field": fields}
    return result


def test_another_scanner_is_flagged_on_image_features_the_development_centre_is_not(frames) -> None:
    development = frames["development"]
    reference = build_reference(
        development["image feature"], development["clinical field"], pl.DataFrame(), DEFAULT_BUNDLE_READS, CLINICAL
    )
    assert reference["rows"]["image feature"] == 250
    assert DEFAULT_THRESHOLD == 0.25 and DEFAULT_MIN_ROWS <= 150

    same = run_drift(reference, frames["same_centre"], {}, 150)
    assert same["judged"] and same["flagged"] == [], render_text_of(same)

    other = run_drift(reference, frames["other_scanner"], {"age: between": 3}, 153)
    image_flags = [n for n in other["flagged"] if other["inputs"][n]["group"] == "image feature"]
    assert len(image_flags) >= 3, render_text_of(other)
    assert other["quarantined_share_by_rule"] == {"age: between": round(3 / 153, 4)}

    # The threshold is the user's: above every PSI nothing is flagged, at zero everything is.
    top = max(v["psi"] for v in other["inputs"].values())
    assert run_drift(reference, frames["other_scanner"], {}, 150, threshold=top + 0.01)["flagged"] == []
    assert len(run_drift(reference, frames["other_scanner"], {}, 150, threshold=0.0)["flagged"]) == len(other["inputs"])
    # Too few rows to judge: PSI recorded, nothing flagged.
    few = {group: frame.head(20) for group, frame in frames["other_scanner"].items()}
    small = run_drift(reference, few, {}, 20)
    assert not small["judged"] and small["flagged"] == [] and small["inputs"]


def render_text_of(drift: dict) -> str:
    return render_text(
        {"run_id": "t", "scored_at": "t", "cohort": "t", "bundle_sha256": "t", "counts": {}, "drift": drift}
    )
