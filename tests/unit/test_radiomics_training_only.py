"""Leakage: the radiomics stage (screening, the three models, their out-of-fold scores and the scale
those are put on) reads training rows only; internal-validation and external rows are scored
afterwards, to report (TRIPOD+AI: a validation set no fitting or selection touched).

The proof: the stage is run again with every non-training row's features replaced by other draws
and its outcome flipped. Every training row's score (out-of-fold) and the fitted models must be as
they were, while the non-training rows' own radiomics scores change (they were read)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sonorisk.radiomics.model_fit import Batches, fit_radiomics_models
from sonorisk.radiomics.models import MODEL_NAMES
from tests.small_radiomics import perturbed_robustness, small_params


def _study(seed: int = 5) -> dict[str, Any]:
    """Persons with one or two images; outcome shifts three of eight features; 60 % training."""
    rng = np.random.default_rng(seed)
    persons = [f"P{i:03d}" for i in range(70) for _ in range(1 + i % 2)]
    outcome_of = {p: bool(rng.random() < 0.35) for p in dict.fromkeys(persons)}
    y = np.array([outcome_of[p] for p in persons])
    names = [f"original_firstorder_F{j}" for j in range(8)]
    x = rng.normal(size=(len(persons), len(names)))
    x[:, :3] += y[:, None] * 0.9
    index = {p: i for i, p in enumerate(dict.fromkeys(persons))}
    where = {0: "training", 1: "training", 2: "training", 3: "internal_validation", 4: "external"}
    split = np.array([where[index[p] % 5] for p in persons], dtype=object)
    rows = [{"age": 40 + index[p] % 30, "tumor_size_mm": 10.0 + index[p] % 17} for p in persons]
    scanner = ["S1" if index[p] % 2 else "S2" for p in persons]
    return {"x": x, "names": names, "y": y, "persons": persons, "split": split, "rows": rows, "scanner": scanner}


def _fit(study: dict[str, Any], harmonisation: str) -> Any:
    x, split = study["x"], study["split"]
    robustness = perturbed_robustness(x, np.flatnonzero(split == "training"), np.random.default_rng(3))
    batches = Batches("scanner", study["scanner"]) if harmonisation == "combat" else None
    params = small_params(harmonisation=harmonisation)
    return fit_radiomics_models(
        x, study["names"], robustness, study["rows"], split, study["y"], study["persons"], params, batches
    )


@pytest.mark.parametrize("harmonisation", ["none", "combat"])
def test_no_internal_validation_or_external_row_changes_a_fit_or_an_out_of_fold_score(harmonisation: str) -> None:
    study = _study()
    before = _fit(study, harmonisation)

    other = dict(study)
    outside = study["split"] != "training"
    x = study["x"].copy()
    x[outside] = np.random.default_rng(99).normal(2.0, 3.0, size=x[outside].shape)
    other["x"], other["y"] = x, np.where(outside, ~study["y"], study["y"])
    after = _fit(other, harmonisation)

    train = ~outside
    for name in MODEL_NAMES:
        np.testing.assert_array_equal(before.scores[name][train], after.scores[name][train], err_msg=name)
    for name in ("rad_score", "radiomics_clinical_xgb"):  # the clinical-only model reads no feature
        assert not np.allclose(before.scores[name][outside], after.scores[name][outside]), name
    assert before.models.features == after.models.features
    assert before.models.rad_score.to_json() == after.models.rad_score.to_json()
