"""The radiomics model family: what training scores is what the loaded files score, from a feature
table as nightly scoring reads it, and files that disagree are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from sonorisk.modelling import xgb
from sonorisk.modelling.clinical_model import ClinicalLogistic
from sonorisk.radiomics.models import SIDECAR_FILE, RadiomicsModels
from sonorisk.radiomics.screening import ScreeningParams, fit_rad_score


def _fitted(seed: int = 0) -> tuple[RadiomicsModels, np.ndarray, list[str], list[dict]]:
    rng = np.random.default_rng(seed)
    n, names = 120, [f"original_firstorder_F{j}" for j in range(8)]
    x = rng.normal(size=(n, len(names)))
    ages, stages = rng.integers(30, 80, n), rng.integers(0, 4, n)
    rows = [{"age": int(a), "n_stage": f"N{int(k)}"} for a, k in zip(ages, stages, strict=True)]
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.8, size=n)) > 0.3
    rad = fit_rad_score(x, y, names, ScreeningParams(lasso_folds=3, lasso_cs=5))
    clinical = ClinicalLogistic.fit(rows, y.tolist())
    models = RadiomicsModels(rad, clinical, booster=None)
    columns = [names.index(f) for f in rad.features]
    params = {"max_depth": 2, "n_estimators": 20, "learning_rate": 0.1, "min_child_weight": 1}
    models.booster = xgb.classifier(params, 0).fit(models.xgb_design(x[:, columns], rows), y)
    models.xgb_params = params
    return models, x, names, rows


def test_loaded_family_scores_a_feature_table_exactly_as_training_did(tmp_path: Path) -> None:
    models, x, names, rows = _fitted()
    assert models.features, "the LASSO kept no feature: the fixture is too weak"
    trained = models.predict(x[:, [names.index(f) for f in models.features]], rows)
    models.save(tmp_path)
    loaded = RadiomicsModels.load(tmp_path)
    table = pa.table({name: x[:, names.index(name)] for name in reversed(names)} | {"status": ["ok"] * len(rows)})
    scored = loaded.predict_table(table, rows)
    # The linear scores agree to rounding (the matrix product runs over another memory layout); the
    # booster reads the same float32 inputs and gives the same bits.
    for name in ("clinical_only", "rad_score"):
        np.testing.assert_allclose(scored[name], trained[name], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(scored["radiomics_clinical_xgb"], trained["radiomics_clinical_xgb"])


def test_a_table_without_a_read_feature_or_disagreeing_files_are_refused(tmp_path: Path) -> None:
    models, _, _, rows = _fitted(1)
    models.save(tmp_path)
    loaded = RadiomicsModels.load(tmp_path)
    with pytest.raises(ValueError, match="lacks"):
        loaded.predict_table(pa.table({"other": [0.0] * len(rows)}), rows)
    sidecar = json.loads((tmp_path / SIDECAR_FILE).read_text())
    sidecar["columns"] = sidecar["columns"][::-1]
    (tmp_path / SIDECAR_FILE).write_text(json.dumps(sidecar))
    with pytest.raises(ValueError, match="input columns"):
        RadiomicsModels.load(tmp_path)
