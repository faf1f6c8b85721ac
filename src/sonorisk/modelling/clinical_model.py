"""The clinical-only baseline: L2 logistic regression on encoded clinical fields, stored as JSON.

Every other model must beat it. Standardisation, imputation and coefficients are plain numbers, so
scoring needs neither scikit-learn nor pickle.

Example:
    >>> rows = [{"age": a, "n_stage": n} for a, n in [(35, "N2"), (70, "N0"), (40, "N1"), (65, "N0")]]
    >>> model = ClinicalLogistic.fit(rows, [True, False, True, False])
    >>> bool(model.predict_logit(rows[:1])[0] > model.predict_logit(rows[1:2])[0])
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sonorisk.modelling.clinical_encoding import ClinicalEncoder


@dataclass
class ClinicalLogistic:
    encoder: ClinicalEncoder
    means: list[float]
    stds: list[float]
    coefficients: list[float]
    intercept: float

    @classmethod
    def fit(cls, rows: Sequence[Mapping[str, Any]], outcome: Sequence[bool], c: float = 1.0) -> ClinicalLogistic:
        from sklearn.linear_model import LogisticRegression

        encoder = ClinicalEncoder.fit(rows)
        x = encoder.transform(rows)
        means, stds = x.mean(axis=0), x.std(axis=0)
        stds = np.where(stds > 0, stds, 1.0)
        model = LogisticRegression(C=c, max_iter=5000).fit((x - means) / stds, np.asarray(outcome, dtype=bool))
        return cls(encoder, means.tolist(), stds.tolist(), model.coef_[0].tolist(), float(model.intercept_[0]))

    def predict_logit(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        z = (self.encoder.transform(rows) - np.asarray(self.means)) / np.asarray(self.stds)
        return np.asarray(self.intercept + z @ np.asarray(self.coefficients), dtype=np.float64)

    def to_json(self) -> str:
        return json.dumps(
            {
                "encoder": json.loads(self.encoder.to_json()),
                "means": self.means,
                "stds": self.stds,
                "coefficients": dict(zip(self.encoder.columns, self.coefficients, strict=True)),
                "intercept": self.intercept,
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> ClinicalLogistic:
        raw = json.loads(text)
        encoder = ClinicalEncoder.from_json(json.dumps(raw["encoder"]))
        return cls(
            encoder, raw["means"], raw["stds"], [raw["coefficients"][c] for c in encoder.columns], raw["intercept"]
        )
