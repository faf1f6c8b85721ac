"""Issue 5's leakage test on the reduced project: no external row influences a fitted object. The
real stage modules that fit models are re-run on a copy whose external labels are permuted; every
model file keeps its bytes, while the external metrics the radiomics stage reports move (the
perturbation did reach what reads external labels).

The negative control (training labels shuffled, external AUC at chance) is
``test_radiomics_negative_control.py``: the mean of 10 shuffles, where one shuffle's CI was found
to exclude 0.5 about half the time on informative features."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.integration.project import model_hashes, permute_labels, run

pytestmark = [pytest.mark.dvc, pytest.mark.slow, pytest.mark.xdist_group("reduced_project")]

# Every stage that fits a model (dl_score and evaluate fit nothing: they apply the models).
TRAINING_STAGES = ("radiomics_model", "dl_train", "fusion", "survival")


def test_external_labels_influence_no_fitted_object(reproduced: tuple[Path, str], tmp_path: Path) -> None:
    project, _ = reproduced
    before = model_hashes(project)
    for family in ("radiomics", "deep", "fusion", "survival"):
        assert any(k.startswith(f"models/{family}/") for k in before), family
    copy = tmp_path / "perturbed"
    shutil.copytree(project, copy, symlinks=True)
    assert permute_labels(copy, "external", seed=3) > 0
    for stage in TRAINING_STAGES:
        run([sys.executable, "-m", f"pipelines.{stage}"], copy)
    assert model_hashes(copy) == before
    original, perturbed = (
        json.loads((root / "reports/metrics/radiomics.json").read_text())["radiomics_clinical_xgb"]["external"]
        for root in (project, copy)
    )
    assert perturbed["auc"] != original["auc"]
