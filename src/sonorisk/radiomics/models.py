"""The radiomics stage's frozen models as one family: the clinical-only logistic baseline, the LASSO
**Rad Score** and the radiomics + clinical XGBoost. Training, the bundle and nightly scoring all go
through this class, so the XGBoost input matrix (the Rad Score's features, then the encoded clinical
fields) is built in one place.

Files in a model folder: ``rad_score.json``, ``clinical_logistic.json`` (plain numbers),
``radiomics_clinical_xgb.ubj`` (xgboost UBJ) and its sidecar ``radiomics_clinical_xgb.json`` naming
the booster's input columns; ``combat.json`` when the features are harmonised across batches
(``radiomics/harmonisation.py``): the Rad Score and the booster then read harmonised features.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from sonorisk.atomic_file import write_json, write_text
from sonorisk.modelling import xgb
from sonorisk.modelling.clinical_model import ClinicalLogistic
from sonorisk.radiomics.harmonisation import FeatureHarmoniser
from sonorisk.radiomics.screening import RadScoreModel

MODEL_NAMES = ("clinical_only", "rad_score", "radiomics_clinical_xgb")
# How each score is aligned across fold models (modelling/oof.py): logits linearly, probabilities as logits.
SCALES = {"clinical_only": "linear", "rad_score": "linear", "radiomics_clinical_xgb": "probability"}
RAD_SCORE_FILE = "rad_score.json"
CLINICAL_FILE = "clinical_logistic.json"
BOOSTER_FILE = "radiomics_clinical_xgb.ubj"
SIDECAR_FILE = "radiomics_clinical_xgb.json"


@dataclass
class RadiomicsModels:
    """The three fitted models. ``booster`` is an ``XGBClassifier`` after fitting, an xgboost
    ``Booster`` after loading; both score the same."""

    rad_score: RadScoreModel
    clinical: ClinicalLogistic
    booster: Any
    xgb_params: dict[str, Any] = field(default_factory=dict)
    harmoniser: FeatureHarmoniser | None = None  # None: features read as extracted

    @property
    def features(self) -> list[str]:
        """The radiomics features the family reads (the Rad Score's; the booster reads the same)."""
        return list(self.rad_score.features)

    @property
    def xgb_columns(self) -> list[str]:
        return self.features + self.clinical.encoder.columns

    def xgb_design(self, rad_features: np.ndarray, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The booster's input: ``rad_features`` (columns = ``features``, in order), then clinical fields."""
        return np.column_stack([rad_features, self.clinical.encoder.transform(rows)])

    def predict(
        self, rad_features: np.ndarray, rows: Sequence[Mapping[str, Any]], batches: Sequence[Any] | None = None
    ) -> dict[str, np.ndarray]:
        """{clinical_only (logit), rad_score (logit), radiomics_clinical_xgb (probability)} per row.

        Args:
            rad_features: (rows, len(features)) radiomics values, NaN where missing.
            rows: clinical fields per row, in the same order.
            batches: each row's batch, when the family harmonises features (rows of a batch the
                harmoniser does not know are read unharmonised; ``harmonised_rows`` says which).
        """
        if self.harmoniser is not None:
            rad_features = self.harmoniser.apply(rad_features, batches or [None] * len(rows), rows)[0]
        design = self.xgb_design(rad_features, rows)
        if hasattr(self.booster, "predict_proba"):
            probability = self.booster.predict_proba(design)[:, 1]
        else:
            probability = xgb.predict(self.booster, design)
        return {
            "clinical_only": self.clinical.predict_logit(rows),
            "rad_score": self.rad_score.score(rad_features),
            "radiomics_clinical_xgb": probability,
        }

    def for_rows(
        self, rad_features: np.ndarray, batches: Sequence[Any], rows: Sequence[Mapping[str, Any]] | None = None
    ) -> RadiomicsModels:
        """The family as it scores these rows: a batch its harmoniser never saw is estimated from its
        own rows when there are enough of them (``FeatureHarmoniser.with_new_batches``); this family
        itself is not changed. Without a harmoniser, the family as it is."""
        if self.harmoniser is None:
            return self
        extended, _ = self.harmoniser.with_new_batches(rad_features, batches, rows)
        return replace(self, harmoniser=extended)

    def feature_matrix(self, table: pa.Table) -> np.ndarray:
        """The family's features from a feature table (``sonorisk radiomics`` output), NaN for nulls.

        Raises:
            ValueError: the table lacks a feature the models read (other extraction settings?).
        """
        absent = [f for f in self.features if f not in table.column_names]
        if absent:
            raise ValueError(
                f"feature table lacks {len(absent)} Rad Score features (first: {absent[0]}): other settings?"
            )
        columns = [np.asarray(table.column(f).to_numpy(zero_copy_only=False), dtype=np.float64) for f in self.features]
        return np.column_stack(columns) if columns else np.zeros((table.num_rows, 0))

    def predict_table(
        self, features: pa.Table, rows: Sequence[Mapping[str, Any]], batches: Sequence[Any] | None = None
    ) -> dict[str, np.ndarray]:
        """``predict`` on a feature table; ``features``, ``rows`` and ``batches`` in the same row order."""
        if features.num_rows != len(rows):
            raise ValueError(f"{features.num_rows} feature rows but {len(rows)} clinical rows")
        return self.predict(self.feature_matrix(features), rows, batches)

    def save(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        params = self.booster.get_params(deep=False) if hasattr(self.booster, "get_params") else self.xgb_params
        sidecar = {"columns": self.xgb_columns, "params": params, "rad_features": self.features}
        written = [
            write_text(folder / RAD_SCORE_FILE, self.rad_score.to_json() + "\n"),
            write_text(folder / CLINICAL_FILE, self.clinical.to_json() + "\n"),
            xgb.save_booster(self.booster, folder / BOOSTER_FILE),
            write_json(folder / SIDECAR_FILE, sidecar, default=str),
        ]
        return written + ([self.harmoniser.save(folder)] if self.harmoniser is not None else [])

    @classmethod
    def load(cls, folder: Path) -> RadiomicsModels:
        """Raises:
        FileNotFoundError: a model file is missing.
        ValueError: the booster's recorded inputs disagree with the Rad Score's features.
        """
        for name in (RAD_SCORE_FILE, CLINICAL_FILE, BOOSTER_FILE, SIDECAR_FILE):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"no {name} in {folder}: run the radiomics_model stage (`dvc repro`)")
        models = cls(
            rad_score=RadScoreModel.from_json((folder / RAD_SCORE_FILE).read_text()),
            clinical=ClinicalLogistic.from_json((folder / CLINICAL_FILE).read_text()),
            booster=xgb.load_booster(folder / BOOSTER_FILE),
        )
        sidecar = json.loads((folder / SIDECAR_FILE).read_text())
        if sidecar["columns"] != models.xgb_columns:
            raise ValueError(f"{folder / SIDECAR_FILE}: the booster's input columns are not the Rad Score's + clinical")
        models.xgb_params = sidecar["params"]
        models.harmoniser = FeatureHarmoniser.load(folder)
        if models.harmoniser is not None and models.harmoniser.features != models.features:
            raise ValueError(f"{folder}: the ComBat estimates are not for the Rad Score's features")
        return models
