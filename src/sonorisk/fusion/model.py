"""The fitted fusion model: design matrix, raw score, calibrated risk, risk groups, contributions.

Inputs per patient: validated clinical fields and the image-derived scores named in
``score_inputs`` (``design.py``: the Rad Score as a logit, the radiomics + clinical XGBoost score
and the DL Score entered as logits, a missing score filled with the training median). Each column is
standardised with training means and SDs; a score column's SD is further divided by its
``score_scale`` (chosen by CV), which is how the logistic penalty shrinks the few strong scores less
than the many weak clinical fields. The head (``heads.py``) is a logistic regression (coefficients in
JSON) or an XGBoost booster (UBJ beside the JSON), followed by a calibrator; thresholds fixed on
training data turn risks into groups.

One interface with the survival models: ``matrix`` (the standardised design), ``decision_function``
(the raw score), ``save(folder)`` / ``load(folder)`` (a JSON card, a booster beside it); and
``predict_proba`` (the calibrated probability).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sonorisk.atomic_file import write_json
from sonorisk.fusion.calibration import Calibrator, calibrator_from_dict
from sonorisk.fusion.design import InputDesign
from sonorisk.fusion.heads import BoosterHead, DesignedModel, LinearHead, head_from_dict
from sonorisk.modelling.clinical_encoding import ClinicalEncoder

MODEL_FILE = "fusion.json"
BOOSTER_FILE = "fusion_xgb.ubj"


@dataclass
class FusionModel(DesignedModel):
    kind: str  # a key of heads.HEADS: "logistic" or "xgboost"
    design: InputDesign
    head: LinearHead | BoosterHead
    calibrator: Calibrator
    thresholds: dict[str, float] = field(default_factory=dict)
    min_sensitivity: float = 0.9
    xgb_params: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)

    @property
    def encoder(self) -> ClinicalEncoder:
        assert self.design.encoder is not None  # the fusion always encodes the clinical fields it saw
        return self.design.encoder

    def predict_proba(self, rows: Sequence[Mapping[str, Any]], scores: Mapping[str, np.ndarray]) -> np.ndarray:
        """Calibrated probability of the outcome per row."""
        return self.calibrator.predict_proba(self.decision_function(rows, scores))

    def risk_group(self, risk: np.ndarray) -> list[str]:
        """'high' at or above the Youden threshold, 'intermediate' at or above the high-sensitivity
        threshold, else 'low' (the high-sensitivity threshold is the lower one)."""
        hi, sens = self.thresholds["youden"], self.thresholds["high_sensitivity"]
        return ["high" if r >= hi else "intermediate" if r >= sens else "low" for r in np.asarray(risk)]

    def contributions(self, z: np.ndarray) -> tuple[np.ndarray, float]:
        """Per-feature additive contributions to the raw score and the base value (exact SHAP values)."""
        return self.head.contributions(z)

    def to_dict(self) -> dict[str, Any]:
        booster = isinstance(self.head, BoosterHead)
        return {
            "kind": self.kind,
            **self.design.to_dict(),
            **self.head.to_dict(self.columns),
            "intercept": getattr(self.head, "intercept", None),
            "booster_file": BOOSTER_FILE if booster else None,
            "xgb_params": self.xgb_params,
            "calibrator": self.calibrator.to_dict(),
            "thresholds": self.thresholds,
            "min_sensitivity": self.min_sensitivity,
            "selection": self.selection,
        }

    def save(self, folder: Path) -> list[Path]:
        """Write ``fusion.json`` (and ``fusion_xgb.ubj`` for a booster); returns the files written."""
        return [write_json(folder / MODEL_FILE, self.to_dict()), *self.head.save(folder / BOOSTER_FILE)]

    @classmethod
    def load(cls, folder: Path) -> FusionModel:
        path = folder / MODEL_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no fusion model at {path}: run `sonorisk fusion` (or `dvc repro fusion`)")
        raw = json.loads(path.read_text())
        return cls(
            kind=raw["kind"],
            design=InputDesign.from_dict(raw),
            head=head_from_dict(raw, folder),
            calibrator=calibrator_from_dict(raw["calibrator"]),
            thresholds=raw["thresholds"],
            min_sensitivity=raw["min_sensitivity"],
            xgb_params=raw["xgb_params"],
            selection=raw["selection"],
        )
