"""What turns a design matrix into a raw score (a logit, a booster margin, a log hazard): a linear
head (coefficients, an intercept for logistic models) or an XGBoost booster. ``HEADS`` names each
model kind's head; the fusion and survival models hold one and never branch on their kind."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sonorisk.fusion.design import InputDesign
from sonorisk.modelling import xgb


@dataclass
class LinearHead:
    coefficients: list[float]
    intercept: float | None = None  # a Cox model has none

    def raw(self, z: np.ndarray) -> np.ndarray:
        return np.asarray((self.intercept or 0.0) + z @ np.asarray(self.coefficients, dtype=np.float64))

    def contributions(self, z: np.ndarray) -> tuple[np.ndarray, float]:
        """Exact SHAP values of a linear model on standardised inputs (training mean 0)."""
        return z * np.asarray(self.coefficients), float(self.intercept or 0.0)

    def to_dict(self, columns: Sequence[str]) -> dict[str, Any]:
        return {"coefficients": dict(zip(columns, self.coefficients, strict=True))}

    def save(self, path: Path) -> list[Path]:
        path.unlink(missing_ok=True)  # a booster a previous fit left there
        return []

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], columns: Sequence[str], folder: Path) -> LinearHead:
        return cls([raw["coefficients"][c] for c in columns], raw.get("intercept"))


@dataclass
class BoosterHead:
    booster: Any

    def raw(self, z: np.ndarray) -> np.ndarray:
        return xgb.predict(self.booster, z, output_margin=True)

    def contributions(self, z: np.ndarray) -> tuple[np.ndarray, float]:
        """TreeSHAP (``pred_contribs``); the base value is its bias column."""
        from xgboost import DMatrix

        contribs = np.asarray(self.booster.predict(DMatrix(z), pred_contribs=True), dtype=np.float64)
        return contribs[:, :-1], float(contribs[0, -1]) if len(contribs) else 0.0

    def to_dict(self, columns: Sequence[str]) -> dict[str, Any]:
        return {"coefficients": None}

    def save(self, path: Path) -> list[Path]:
        return [xgb.save_booster(self.booster, path)]

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], columns: Sequence[str], folder: Path) -> BoosterHead:
        return cls(xgb.load_booster(folder / raw["booster_file"]))


# model kind -> its head (fusion: logistic or xgboost; survival: cox or xgb_cox)
HEADS: dict[str, type[LinearHead] | type[BoosterHead]] = {
    "logistic": LinearHead,
    "xgboost": BoosterHead,
    "cox": LinearHead,
    "xgb_cox": BoosterHead,
}


class DesignedModel:
    """What the fusion and survival models share: a design and a head. ``decision_function`` is the
    raw score (a logit, a margin, a log hazard); each model adds its own output (a calibrated
    probability, an absolute risk by a horizon)."""

    design: InputDesign
    head: LinearHead | BoosterHead

    @property
    def columns(self) -> list[str]:
        return self.design.columns

    @property
    def score_inputs(self) -> list[str]:
        return self.design.score_inputs

    def matrix(self, rows: Sequence[Mapping[str, Any]], scores: Mapping[str, np.ndarray]) -> np.ndarray:
        """Standardised (rows, columns) matrix; missing scores filled with the training medians."""
        return self.design.matrix(rows, scores)

    def decision_function(self, rows: Sequence[Mapping[str, Any]], scores: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.head.raw(self.matrix(rows, scores))


def head_from_dict(raw: Mapping[str, Any], folder: Path) -> LinearHead | BoosterHead:
    """The head a saved model card (``raw``: its ``kind``, ``columns`` and head fields) names."""
    if raw["kind"] not in HEADS:
        raise ValueError(f"unknown model kind {raw['kind']!r} (known: {', '.join(HEADS)})")
    return HEADS[raw["kind"]].from_dict(raw, raw["columns"], folder)
