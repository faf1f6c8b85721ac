"""Shared fixtures: small synthetic cohorts generated in code, the shared reference data."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sonorisk.paths import SHARED_DATA_DIR
from sonorisk.signing import DEMO_DIR_ENV, TRUSTED_KEYS_ENV, demo_key_path, ensure_key
from sonorisk.synthetic.generator import SynthConfig, write_synthetic_cohort

BUSBRA_DIR = SHARED_DATA_DIR / "busbra_sample"

# Every bundle the tests build (`dvc repro` in throw-away projects inherits this environment) is signed
# with one demo key of the test machine, kept out of the user's ~/.config, and every `sonorisk score`
# trusts it: tests of signing itself set their own keys.
TEST_KEYS = Path(tempfile.gettempdir()) / f"sonorisk-test-keys-{os.getuid()}"
os.environ.setdefault(DEMO_DIR_ENV, str(TEST_KEYS))
ensure_key(demo_key_path())
os.environ.setdefault(TRUSTED_KEYS_ENV, str(demo_key_path().with_suffix(".pub")))
# Scripts that write golden files with a reference implementation in its own environment: not tests.
collect_ignore = ["golden/make_combat_golden.py"]

# What the default study's bundle read when this test was written (rad_score.json): a realistic
# input spread over 5 images and 5 classes, not an expected output.
DEFAULT_BUNDLE_READS = [
    "wavelet-LH_firstorder_Skewness",
    "wavelet-LL_gldm_LargeDependenceLowGrayLevelEmphasis",
    "wavelet-LH_glcm_ClusterShade",
    "wavelet-LH_firstorder_Energy",
    "log-sigma-1-0-mm-3D_firstorder_Range",
    "wavelet-LH_glcm_Imc2",
    "wavelet-LL_glcm_JointEntropy",
    "original_shape2D_Elongation",
    "original_gldm_SmallDependenceLowGrayLevelEmphasis",
    "log-sigma-2-0-mm-3D_ngtdm_Strength",
    "log-sigma-1-0-mm-3D_gldm_DependenceNonUniformityNormalized",
]


@pytest.fixture(scope="session")
def ray_local():
    """A 2-CPU local Ray cluster, one per test session (per pytest-xdist worker): starting one takes
    seconds. Code under test that calls ``runtime.ray_session`` reuses it and leaves it running."""
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def small_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 9-patient, two-centre synthetic cohort (read-only: copy before changing it)."""
    out = tmp_path_factory.mktemp("small_cohort")
    config = SynthConfig(centres=[("A", 6), ("B", 3)], seed=101, cohort_id="small")
    write_synthetic_cohort(config, out / "small.parquet", out / "small.truth.parquet", workers=1, progress=False)
    return out / "small.parquet"


@pytest.fixture(scope="session")
def small_rows(small_cohort: Path) -> list[dict]:
    return pq.read_table(small_cohort).to_pylist()


def require_shared(path: Path) -> Path:
    """``path`` under the shared reference data, or a skip where it is absent. Under ``CI=true`` its
    absence fails the test instead: CI lays ``../shared`` beside the clone, so a skip there would
    hide a broken path (set ``SONORISK_SHARED_DATA`` to point elsewhere)."""
    if not path.exists():
        message = f"shared reference data not found: {path} (set SONORISK_SHARED_DATA or lay ../shared/data)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_busbra() -> Path:
    require_shared(BUSBRA_DIR / "bus_data_sample.csv")
    return BUSBRA_DIR
