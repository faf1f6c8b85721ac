"""Negative control: with the training labels shuffled, the radiomics models learn nothing, so their
external AUCs centre on 0.5. Real pyradiomics features (original image type, for speed), real
screening, LASSO and XGBoost.

One shuffle is not enough to show it: the features carry the outcome, so a model fitted to noise
still ranks external patients along some direction of feature space, and that direction's AUC lands
on either side of 0.5 (over 20 shuffles of a cohort like this one: mean 0.50-0.52, SD 0.12-0.16,
and the 95 % CI of a single shuffle excluded 0.5 about half the time). A pipeline that leaked labels would move
the mean, so the test checks the mean of ``SHUFFLES`` shuffles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sonorisk.cohort.split import assign_splits
from sonorisk.contracts.schema import CLINICAL_COLUMNS
from sonorisk.modelling.xgb import XgbSearch
from sonorisk.radiomics.fanout import extract_with_ray
from sonorisk.radiomics.feature_table import META_COLUMNS
from sonorisk.radiomics.model_fit import ModelParams, RobustnessInputs, fit_radiomics_models
from sonorisk.radiomics.settings import from_params, load_settings

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("centres")]


@pytest.fixture(scope="module")
def study(synthetic_centres: dict[str, Path], ray_local) -> dict:
    """The development centre (A, 250, second reader) and an external centre (B, 150): original-image
    features of every case, and second-reader features of the training cases, through Ray."""
    cohort = pa.concat_tables(pq.read_table(synthetic_centres[n]) for n in ("development", "external"))
    path = synthetic_centres["development"].parent / "negative_control.parquet"
    pq.write_table(cohort, path)
    params = load_settings().params
    settings = from_params(params | {"imageType": {"Original": {}}}, "original-only")
    table = cohort.select(["patient_id", "case_id", "cohort_id", "center", "brain_metastasis", *CLINICAL_COLUMNS])
    split = assign_splits(table, "brain_metastasis", "A", ["B"], 0.3, seed=5)
    names_split = np.array(split.column("split").to_pylist())
    training = {p for p, s in zip(split.column("patient_id").to_pylist(), names_split, strict=True) if s == "training"}
    first = extract_with_ray(path, settings, progress=False).table
    second = extract_with_ray(
        path, settings, "mask_reader2_png", keep=lambda r: r["patient_id"] in training, progress=False
    ).table
    names = [c for c in first.column_names if c not in META_COLUMNS]
    ids = first.column("patient_id").to_pylist()
    return {
        "x": np.column_stack([first.column(n).to_numpy(zero_copy_only=False) for n in names]).astype(float),
        "x2": np.column_stack([second.column(n).to_numpy(zero_copy_only=False) for n in names]).astype(float),
        "x2_rows": np.array([ids.index(p) for p in second.column("patient_id").to_pylist()]),
        "names": names,
        "rows": table.to_pylist(),
        "split": names_split,
        "y": np.array(split.column("outcome").to_pylist(), dtype=bool),
    }


def _fit(study: dict, y: np.ndarray):
    params = ModelParams(oof_folds=5, xgb=XgbSearch(max_depth=(2,), n_estimators=(100,), folds=3, seed=1), seed=1)
    robustness = RobustnessInputs(  # the second reader's screen (this study has no perturbed cases)
        reader2=study["x2"],
        reader2_rows=study["x2_rows"],
        perturbed=np.zeros((0, 0, 0)),
        perturbed_rows=np.zeros(0, int),
    )
    persons = [str(r["patient_id"]) for r in study["rows"]]
    return fit_radiomics_models(
        study["x"], study["names"], robustness, study["rows"], study["split"], y, persons, params
    )


SHUFFLES = 10


def test_shuffled_training_labels_give_chance_external_auc(study: dict) -> None:
    train = np.flatnonzero(study["split"] == "training")
    rng = np.random.default_rng(2026)
    aucs: dict[str, list[float]] = {m: [] for m in ("rad_score", "radiomics_clinical_xgb", "clinical_only")}
    for _ in range(SHUFFLES):
        y = study["y"].copy()
        y[train] = y[train][rng.permutation(train.size)]
        metrics = _fit(study, y).metrics
        for model, values in aucs.items():
            values.append(metrics[model]["external"]["auc"])
    for model, values in aucs.items():
        # SD over shuffles ~0.15, so the mean of 10 has SE ~0.05: 0.1 is two SE (true labels: ~0.8).
        assert abs(float(np.mean(values)) - 0.5) < 0.1, (model, [round(v, 3) for v in values])


def test_true_labels_beat_chance_externally(study: dict) -> None:
    """The positive control: the same pipeline with the real labels does learn."""
    metrics = _fit(study, study["y"]).metrics
    assert metrics["radiomics_clinical_xgb"]["external"]["ci_low"] > 0.5
