"""What a fusion or survival model reads, as one object: the clinical fields (encoded; none for a
score-only family) then the image-derived scores (probabilities as logits, a missing score filled
with its training median), each column standardised with training statistics."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sonorisk.modelling.clinical_encoding import ClinicalEncoder
from sonorisk.modelling.oof import clipped_logit

# score-table column -> (design column, how it enters)
SCORE_INPUTS = {
    "rad_score": ("rad_score", "linear"),
    "radiomics_clinical_xgb": ("radiomics_xgb_logit", "logit"),
    "dl_score": ("dl_logit", "logit"),
}


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
class InputDesign:
    encoder: ClinicalEncoder | None  # None: a family without clinical fields
    score_inputs: list[str]  # score-table columns, in design order
    score_fill: dict[str, float]  # design column -> training median
    means: list[float]
    stds: list[float]

    @property
    def columns(self) -> list[str]:
        clinical = self.encoder.columns if self.encoder is not None else []
        return [*clinical, *(SCORE_INPUTS[s][0] for s in self.score_inputs)]

    @property
    def clinical_width(self) -> int:
        return len(self.encoder.columns) if self.encoder is not None else 0

    def unscaled(self, rows: Sequence[Mapping[str, Any]], scores: Mapping[str, np.ndarray]) -> np.ndarray:
        parts = [self.encoder.transform(rows)] if self.encoder is not None else []
        if self.score_inputs:
            parts.append(score_matrix(scores, self.score_inputs, self.score_fill))
        return np.column_stack(parts)

    def matrix(self, rows: Sequence[Mapping[str, Any]], scores: Mapping[str, np.ndarray]) -> np.ndarray:
        """Standardised (rows, columns) matrix; ``scores`` maps each of ``score_inputs`` to one value per row."""
        return (self.unscaled(rows, scores) - np.asarray(self.means)) / np.asarray(self.stds)

    @classmethod
    def fit(
        cls,
        encoder: ClinicalEncoder | None,
        rows: Sequence[Mapping[str, Any]],
        scores: Mapping[str, np.ndarray],
        inputs: Sequence[str],
    ) -> tuple[InputDesign, np.ndarray]:
        """Training medians, means and SDs on these rows; returns the design and its unscaled matrix."""
        fill = {}
        if inputs:
            raw = score_matrix(scores, inputs)
            for j, name in enumerate(inputs):
                observed = raw[:, j][~np.isnan(raw[:, j])]
                fill[SCORE_INPUTS[name][0]] = float(np.median(observed)) if observed.size else 0.0
        design = cls(encoder, list(inputs), fill, [], [])
        x = design.unscaled(rows, scores)
        stds = x.std(axis=0)
        design.means, design.stds = x.mean(axis=0).tolist(), np.where(stds > 0, stds, 1.0).tolist()
        return design, x

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "encoder": None if self.encoder is None else json.loads(self.encoder.to_json()),
            "score_inputs": self.score_inputs,
            "score_fill": self.score_fill,
            "means": self.means,
            "stds": self.stds,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> InputDesign:
        encoder = None if raw["encoder"] is None else ClinicalEncoder.from_json(json.dumps(raw["encoder"]))
        return cls(encoder, list(raw["score_inputs"]), raw["score_fill"], raw["means"], raw["stds"])
