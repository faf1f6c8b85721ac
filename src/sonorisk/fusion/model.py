"""The fitted fusion model: design matrix, raw score, calibrated risk, risk groups, contributions.

Inputs per patient: validated clinical fields (encoded by ``ClinicalEncoder``) and the image-derived
scores named in ``score_inputs``, by their score-table columns: the Rad Score (a logit), the
radiomics + clinical XGBoost score and the DL Score (probabilities, entered as logits). A missing
score (a failed extraction or crop) is filled with the training median and reported by the caller.
Each column is standardised with training means and SDs; a score column's SD is further divided by
its ``score_scale`` (chosen by CV), which is how the logistic penalty shrinks the few strong scores
less than the many weak clinical fields. The model is a logistic regression (coefficients in JSON)
or an XGBoost booster (UBJ beside the JSON), followed by a calibrator; thresholds fixed on training
data turn risks into groups.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sonorisk.atomic_file import write_json
from sonorisk.fusion.calibration import IsotonicCalibrator, PlattCalibrator, calibrator_from_dict
from sonorisk.modelling import xgb
from sonorisk.modelling.clinical_encoding import ClinicalEncoder
from sonorisk.modelling.oof import clipped_logit

# score-table column -> (design column, how it enters)
SCORE_INPUTS = {
    "rad_score": ("rad_score", "linear"),
    "radiomics_clinical_xgb": ("radiomics_xgb_logit", "logit"),
    "dl_score": ("dl_logit", "logit"),
}
MODEL_FILE = "fusion.json"
BOOSTER_FILE = "fusion_xgb.ubj"


def score_matrix(
    scores: Mapping[str, np.ndarray], inputs: Sequence[str], fill: Mapping[str, float] | None = None
) -> np.ndarray:
    """(rows, len(inputs)) matrix of the design's score columns (probabilities as logits); NaN
    entries become ``fill[design column]`` when ``fill`` is given."""
    missing = [s for s in inputs if s not in scores]
    if missing:
        raise ValueError(f"fusion needs the score(s) {missing}")
    columns = []
    for name in inputs:
        column, how = SCORE_INPUTS[name]
        values = np.asarray(scores[name], dtype=np.float64)
        values = clipped_logit(values) if how == "logit" else values.copy()
        if fill is not None:
            values[np.isnan(values)] = fill[column]
        columns.append(values)
    return np.column_stack(columns)


@dataclass
class FusionModel:
    kind: str  # "logistic" or "xgboost"
    encoder: ClinicalEncoder
    score_inputs: list[str]  # score-table columns, in design order
    score_fill: dict[str, float]  # design column -> training median
    means: list[float]
    stds: list[float]
    calibrator: PlattCalibrator | IsotonicCalibrator
    thresholds: dict[str, float] = field(default_factory=dict)
    min_sensitivity: float = 0.9
    coefficients: list[float] | None = None
    intercept: float | None = None
    booster: Any = None
    xgb_params: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [*self.encoder.columns, *(SCORE_INPUTS[s][0] for s in self.score_inputs)]

    def design(self, rows: Sequence[Mapping[str, Any]], scores: Mapping[str, np.ndarray]) -> np.ndarray:
        """Standardised (rows, columns) matrix; missing scores filled with the training medians.

        ``scores`` maps each of ``score_inputs`` (score-table column names) to one value per row.
        """
        x = np.column_stack([self.encoder.transform(rows), score_matrix(scores, self.score_inputs, self.score_fill)])
        return (x - np.asarray(self.means)) / np.asarray(self.stds)

    def raw_from_design(self, z: np.ndarray) -> np.ndarray:
        """The uncalibrated score: the logistic linear predictor or the booster's margin."""
        if self.kind == "logistic":
            assert self.coefficients is not None and self.intercept is not None
            return np.asarray(self.intercept + z @ np.asarray(self.coefficients), dtype=np.float64)
        return xgb.predict(self.booster, z, output_margin=True)

    def raw(self, rows: Sequence[Mapping[str, Any]], scores: Mapping[str, np.ndarray]) -> np.ndarray:
        """The uncalibrated fused score per row."""
        return self.raw_from_design(self.design(rows, scores))

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Raw fused scores -> calibrated probabilities of the outcome."""
        return self.calibrator.apply(raw)

    def risk(self, rows: Sequence[Mapping[str, Any]], scores: Mapping[str, np.ndarray]) -> np.ndarray:
        """Calibrated probability of the outcome per row."""
        return self.calibrate(self.raw(rows, scores))

    def risk_group(self, risk: np.ndarray) -> list[str]:
        """'high' at or above the Youden threshold, 'intermediate' at or above the high-sensitivity
        threshold, else 'low' (the high-sensitivity threshold is the lower one)."""
        hi, sens = self.thresholds["youden"], self.thresholds["high_sensitivity"]
        return ["high" if r >= hi else "intermediate" if r >= sens else "low" for r in np.asarray(risk)]

    def contributions(self, z: np.ndarray) -> tuple[np.ndarray, float]:
        """Per-feature additive contributions to the raw score and the base value (exact SHAP values).

        Logistic: coefficient x standardised value (training mean 0), base = intercept. XGBoost:
        ``pred_contribs`` (TreeSHAP), base = its bias column.
        """
        if self.kind == "logistic":
            assert self.coefficients is not None and self.intercept is not None
            return z * np.asarray(self.coefficients), float(self.intercept)
        from xgboost import DMatrix

        contribs = np.asarray(self.booster.predict(DMatrix(z), pred_contribs=True), dtype=np.float64)
        return contribs[:, :-1], float(contribs[0, -1]) if len(contribs) else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "columns": self.columns,
            "encoder": json.loads(self.encoder.to_json()),
            "score_inputs": self.score_inputs,
            "score_fill": self.score_fill,
            "means": self.means,
            "stds": self.stds,
            "coefficients": None
            if self.coefficients is None
            else dict(zip(self.columns, self.coefficients, strict=True)),
            "intercept": self.intercept,
            "booster_file": BOOSTER_FILE if self.kind == "xgboost" else None,
            "xgb_params": self.xgb_params,
            "calibrator": self.calibrator.to_dict(),
            "thresholds": self.thresholds,
            "min_sensitivity": self.min_sensitivity,
            "selection": self.selection,
        }

    def save(self, folder: Path) -> list[Path]:
        """Write ``fusion.json`` (and ``fusion_xgb.ubj`` for a booster); returns the files written."""
        written = [write_json(folder / MODEL_FILE, self.to_dict())]
        if self.kind == "xgboost":
            written.append(xgb.save_booster(self.booster, folder / BOOSTER_FILE))
        else:
            (folder / BOOSTER_FILE).unlink(missing_ok=True)
        return written

    @classmethod
    def load(cls, folder: Path) -> FusionModel:
        path = folder / MODEL_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no fusion model at {path}: run `sonorisk fusion` (or `dvc repro fusion`)")
        raw = json.loads(path.read_text())
        encoder = ClinicalEncoder.from_json(json.dumps(raw["encoder"]))
        booster = xgb.load_booster(folder / raw["booster_file"]) if raw["kind"] == "xgboost" else None
        coefficients = raw["coefficients"]
        return cls(
            kind=raw["kind"],
            encoder=encoder,
            score_inputs=list(raw["score_inputs"]),
            score_fill=raw["score_fill"],
            means=raw["means"],
            stds=raw["stds"],
            calibrator=calibrator_from_dict(raw["calibrator"]),
            thresholds=raw["thresholds"],
            min_sensitivity=raw["min_sensitivity"],
            coefficients=None if coefficients is None else [coefficients[c] for c in raw["columns"]],
            intercept=raw["intercept"],
            booster=booster,
            xgb_params=raw["xgb_params"],
            selection=raw["selection"],
        )
