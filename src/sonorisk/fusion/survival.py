"""Time-to-event models beside the binary ones: the same inputs, the same out-of-fold discipline.

A ``SurvivalModel`` is a family of inputs (clinical fields and/or score-table columns, entered as in
the binary fusion: probabilities as logits, missing scores filled with the training median, each
column standardised) and the winner of a small search on the training rows:

* ridge-penalised Cox (scikit-survival) over ``alphas``;
* gradient-boosted Cox (xgboost ``survival:cox``) over a small grid, for families with clinical
  fields (with one or two columns a tree only re-ranks the same score).

The winner is the highest cross-validated Harrell's C on out-of-fold log hazards (folds stratified by
event, persons whole); ties go to the Cox model, listed first. A Breslow baseline on the refitted
model's training scores turns the log hazard into an absolute risk by any horizon.

Families (``FAMILIES``): ``survival_fusion`` (clinical + Rad Score + radiomics XGBoost + DL Score),
``survival_clinical``, ``survival_rad`` (Cox on the Rad Score), ``survival_dl`` (Cox on the DL Score).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sonorisk.atomic_file import write_json
from sonorisk.fusion.model import SCORE_INPUTS, score_matrix
from sonorisk.modelling import xgb
from sonorisk.modelling.clinical_encoding import ClinicalEncoder
from sonorisk.modelling.cox import Baseline, CoxBoostSetting, fit_cox, fit_xgb_cox, xgb_log_hazard
from sonorisk.modelling.folds import stratified_folds
from sonorisk.stats.survival import harrell_c

# family -> (uses clinical fields, score-table columns)
FAMILIES: dict[str, tuple[bool, tuple[str, ...]]] = {
    "survival_fusion": (True, ("rad_score", "radiomics_clinical_xgb", "dl_score")),
    "survival_clinical": (True, ()),
    "survival_rad": (False, ("rad_score",)),
    "survival_dl": (False, ("dl_score",)),
}


@dataclass(frozen=True)
class SurvivalParams:
    """The ``survival:`` section of params.yaml."""

    cv_folds: int = 5
    alphas: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)
    xgb_grid: tuple[CoxBoostSetting, ...] = (CoxBoostSetting(max_depth=1), CoxBoostSetting(max_depth=2))
    horizons_months: tuple[float, ...] = (12.0, 24.0, 36.0)
    uno_tau_months: float = 60.0  # evaluation: Uno's C counts pairs whose earlier time is before tau
    bootstrap_reps: int = 200  # evaluation: bootstrap CIs of the C-indices
    seed: int = 0


@dataclass
class SurvivalModel:
    family: str
    kind: str  # "cox" or "xgb_cox"
    encoder: ClinicalEncoder | None
    score_inputs: list[str]
    score_fill: dict[str, float]
    means: list[float]
    stds: list[float]
    baseline: Baseline
    coefficients: list[float] | None = None
    booster: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        clinical = self.encoder.columns if self.encoder is not None else []
        return [*clinical, *(SCORE_INPUTS[s][0] for s in self.score_inputs)]

    def design(self, rows: Sequence[Mapping[str, Any]], scores: Mapping[str, np.ndarray]) -> np.ndarray:
        x = _raw_design(self.encoder, rows, scores, self.score_inputs, self.score_fill)
        return (x - np.asarray(self.means)) / np.asarray(self.stds)

    def log_hazard(self, rows: Sequence[Mapping[str, Any]], scores: Mapping[str, np.ndarray]) -> np.ndarray:
        """Log relative hazard per row (higher = earlier brain metastasis)."""
        z = self.design(rows, scores)
        if self.kind == "cox":
            return z @ np.asarray(self.coefficients, dtype=np.float64)
        return xgb_log_hazard(self.booster, z)

    def risk_at(
        self, rows: Sequence[Mapping[str, Any]], scores: Mapping[str, np.ndarray], horizon: float
    ) -> np.ndarray:
        """Absolute risk of the event within ``horizon`` months per row."""
        return self.baseline.risk_at(self.log_hazard(rows, scores), horizon)

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "kind": self.kind,
            "columns": self.columns,
            "encoder": None if self.encoder is None else json.loads(self.encoder.to_json()),
            "score_inputs": self.score_inputs,
            "score_fill": self.score_fill,
            "means": self.means,
            "stds": self.stds,
            "coefficients": None
            if self.coefficients is None
            else dict(zip(self.columns, self.coefficients, strict=True)),
            "booster_file": f"{self.family}.ubj" if self.kind == "xgb_cox" else None,
            "params": self.params,
            "baseline": self.baseline.to_dict(),
            "selection": self.selection,
        }

    def save(self, folder: Path) -> list[Path]:
        """``<family>.json`` (and ``<family>.ubj`` for a booster); returns the files written."""
        written = [write_json(folder / f"{self.family}.json", self.to_dict())]
        booster_path = folder / f"{self.family}.ubj"
        if self.kind == "xgb_cox":
            written.append(xgb.save_booster(self.booster, booster_path))
        else:
            booster_path.unlink(missing_ok=True)
        return written

    @classmethod
    def load(cls, folder: Path, family: str) -> SurvivalModel:
        path = folder / f"{family}.json"
        if not path.is_file():
            raise FileNotFoundError(f"no survival model {family} at {path}: run `dvc repro survival`")
        raw = json.loads(path.read_text())
        encoder = None if raw["encoder"] is None else ClinicalEncoder.from_json(json.dumps(raw["encoder"]))
        coefficients = raw["coefficients"]
        return cls(
            family=raw["family"],
            kind=raw["kind"],
            encoder=encoder,
            score_inputs=list(raw["score_inputs"]),
            score_fill=raw["score_fill"],
            means=raw["means"],
            stds=raw["stds"],
            baseline=Baseline.from_dict(raw["baseline"]),
            coefficients=None if coefficients is None else [coefficients[c] for c in raw["columns"]],
            booster=xgb.load_booster(folder / raw["booster_file"]) if raw["kind"] == "xgb_cox" else None,
            params=raw["params"],
            selection=raw["selection"],
        )


def _raw_design(
    encoder: ClinicalEncoder | None,
    rows: Sequence[Mapping[str, Any]],
    scores: Mapping[str, np.ndarray],
    inputs: Sequence[str],
    fill: Mapping[str, float] | None,
) -> np.ndarray:
    parts = [encoder.transform(rows)] if encoder is not None else []
    if inputs:
        parts.append(score_matrix(scores, inputs, fill))
    return np.column_stack(parts)


@dataclass
class SurvivalFit:
    model: SurvivalModel
    oof_log_hazard: np.ndarray
    trials: list[dict[str, Any]]


def fit_survival(
    family: str,
    rows: Sequence[Mapping[str, Any]],
    scores: Mapping[str, np.ndarray],
    event: np.ndarray,
    time: np.ndarray,
    params: SurvivalParams,
    groups: Sequence[str] | None = None,
) -> SurvivalFit:
    """Fit one family on these (training) patients: CV search, refit, Breslow baseline.

    ``scores`` must be out-of-fold for training rows, as for the binary fusion.
    """
    uses_clinical, inputs = FAMILIES[family]
    e = np.asarray(event, dtype=bool)
    t = np.asarray(time, dtype=np.float64)
    if int(e.sum()) < 2:
        raise ValueError(f"{family}: needs at least two events among the training patients")
    if np.isnan(t).any() or (t < 0).any():
        raise ValueError(f"{family}: follow-up must be known and non-negative for every training patient")
    encoder = ClinicalEncoder.fit(rows) if uses_clinical else None
    fill = {}
    if inputs:
        raw_scores = score_matrix(scores, inputs)
        for j, name in enumerate(inputs):
            observed = raw_scores[:, j][~np.isnan(raw_scores[:, j])]
            fill[SCORE_INPUTS[name][0]] = float(np.median(observed)) if observed.size else 0.0
    x = _raw_design(encoder, rows, scores, inputs, fill)
    means, stds = x.mean(axis=0), x.std(axis=0)
    stds = np.where(stds > 0, stds, 1.0)
    z = (x - means) / stds
    folds = stratified_folds(e, params.cv_folds, params.seed, groups)

    candidates: list[tuple[float, dict[str, Any], np.ndarray]] = []
    for alpha in params.alphas:
        oof = np.empty(t.size)
        for fit_rows, held in folds:
            oof[held] = z[held] @ fit_cox(z[fit_rows], e[fit_rows], t[fit_rows], alpha)
        candidates.append((harrell_c(e, t, oof), {"kind": "cox", "alpha": alpha}, oof))
    for grid in params.xgb_grid if uses_clinical else ():
        oof = np.empty(t.size)
        for fit_rows, held in folds:
            booster = fit_xgb_cox(z[fit_rows], e[fit_rows], t[fit_rows], grid, params.seed)
            oof[held] = xgb_log_hazard(booster, z[held])
        candidates.append((harrell_c(e, t, oof), {"kind": "xgb_cox", **asdict(grid)}, oof))
    trials = [{**setting, "cv_harrell_c": c} for c, setting, _ in candidates]
    best = max(range(len(candidates)), key=lambda i: (candidates[i][0], -i))
    cv_c, setting, oof = candidates[best]

    model = SurvivalModel(
        family=family,
        kind=setting["kind"],
        encoder=encoder,
        score_inputs=list(inputs),
        score_fill=fill,
        means=means.tolist(),
        stds=stds.tolist(),
        baseline=Baseline([], []),
        params={k: v for k, v in setting.items() if k != "kind"},
        selection={
            "cv_folds": len(folds),
            "best_cv_harrell_c": cv_c,
            "trials": trials,
            "training_patients": int(e.size),
            "training_events": int(e.sum()),
        },
    )
    if model.kind == "cox":
        model.coefficients = fit_cox(z, e, t, setting["alpha"]).tolist()
        fitted = z @ np.asarray(model.coefficients)
    else:
        model.booster = fit_xgb_cox(z, e, t, CoxBoostSetting(**model.params), params.seed)
        fitted = xgb_log_hazard(model.booster, z)
    model.baseline = Baseline.fit(fitted, e, t)
    return SurvivalFit(model, oof, trials)
