"""Score a new cohort with the frozen radiomics-stage models (clinical-only, Rad Score, XGBoost).

Reads ``models/radiomics/`` as the ``radiomics_model`` stage wrote it; needs the cohort's feature
table (``sonorisk radiomics``) and its clinical fields. A case whose extraction failed has NaN
features: the Rad Score fills them with training medians (as it does for any missing feature) and
the caller should report the row's extraction status next to its score.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from sonorisk.cohort.clinical_model import ClinicalLogistic
from sonorisk.radiomics import xgb_model
from sonorisk.radiomics.screening import RadScoreModel


def score_frozen_radiomics_models(
    model_dir: Path, features: pa.Table, clinical_rows: Sequence[Mapping[str, Any]]
) -> dict[str, np.ndarray]:
    """{clinical_only (logit), rad_score (logit), radiomics_clinical_xgb (probability)} per row.

    ``features`` and ``clinical_rows`` must be in the same row order.
    """
    if features.num_rows != len(clinical_rows):
        raise ValueError(f"{features.num_rows} feature rows but {len(clinical_rows)} clinical rows")
    rad = RadScoreModel.from_json((model_dir / "rad_score.json").read_text())
    clinical = ClinicalLogistic.from_json((model_dir / "clinical_logistic.json").read_text())
    sidecar = json.loads((model_dir / "radiomics_clinical_xgb.json").read_text())
    absent = [f for f in rad.features if f not in features.column_names]
    if absent:
        raise ValueError(f"feature table lacks {len(absent)} Rad Score features (first: {absent[0]}): other settings?")

    def column(name: str) -> np.ndarray:
        return np.asarray(features.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)

    rad_x = np.column_stack([column(f) for f in rad.features]) if rad.features else np.zeros((features.num_rows, 0))
    xgb_rad = np.column_stack([column(f) for f in sidecar["rad_features"]]) if sidecar["rad_features"] else None
    design = clinical.encoder.transform(clinical_rows)
    if xgb_rad is not None:
        design = np.column_stack([xgb_rad, design])
    booster = xgb_model.load_booster(model_dir / "radiomics_clinical_xgb.ubj")
    return {
        "clinical_only": clinical.predict_logit(clinical_rows),
        "rad_score": rad.score(rad_x),
        "radiomics_clinical_xgb": xgb_model.predict(booster, design),
    }
