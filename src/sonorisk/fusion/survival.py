"""Time-to-event models beside the binary ones: the same inputs, the same out-of-fold discipline.

A ``SurvivalModel`` is a family of inputs (clinical fields and/or score-table columns, entered as in
the binary fusion: probabilities as logits, missing scores filled with the training median, each
column standardised) and the winner of a small search on the training rows:

* ridge-penalised Cox (scikit-survival) over ``alphas``;
* gradient-boosted Cox (xgboost ``survival:cox``) over a small grid, for families with clinical
  fields (with one or two columns a tree only re-ranks the same score).

The winner is the highest cross-validated partial log-likelihood (Verweij & van Houwelingen 1993:
each fold model's log-likelihood on all training rows minus that on its own fitting rows; folds
stratified by event, persons whole); ties go to the Cox model, listed first. Harrell's C of the
out-of-fold log hazards is reported beside it, but it cannot choose a penalty: scaling a log hazard
changes no ranking, so C cannot see whether the risks are shrunk too little or too much. A Breslow
baseline on the refitted model's training scores turns the log hazard into an absolute risk by any
horizon.

Families (``FAMILIES``): ``survival_fusion`` (clinical + Rad Score + radiomics XGBoost + DL Score),
``survival_clinical``, ``survival_rad`` (Cox on the Rad Score), ``survival_dl`` (Cox on the DL Score).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sonorisk.atomic_file import write_json
from sonorisk.fusion.design import InputDesign
from sonorisk.fusion.heads import BoosterHead, DesignedModel, LinearHead, head_from_dict
from sonorisk.modelling.clinical_encoding import ClinicalEncoder
from sonorisk.modelling.cox import Baseline, CoxBoostSetting, fit_cox, fit_xgb_cox, xgb_log_hazard
from sonorisk.modelling.folds import stratified_folds
from sonorisk.stats.survival import harrell_c, partial_log_likelihood

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
class SurvivalModel(DesignedModel):
    family: str
    kind: str  # a key of heads.HEADS: "cox" or "xgb_cox"
    design: InputDesign
    head: LinearHead | BoosterHead
    baseline: Baseline
    params: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)

    def predict_risk(
        self, rows: Sequence[Mapping[str, Any]], scores: Mapping[str, np.ndarray], horizon: float
    ) -> np.ndarray:
        """Absolute risk of the event within ``horizon`` months per row."""
        return self.baseline.risk_at(self.decision_function(rows, scores), horizon)

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "kind": self.kind,
            **self.design.to_dict(),
            **self.head.to_dict(self.columns),
            "booster_file": f"{self.family}.ubj" if isinstance(self.head, BoosterHead) else None,
            "params": self.params,
            "baseline": self.baseline.to_dict(),
            "selection": self.selection,
        }

    def save(self, folder: Path) -> list[Path]:
        """``<family>.json`` (and ``<family>.ubj`` for a booster); returns the files written."""
        card = write_json(folder / f"{self.family}.json", self.to_dict())
        return [card, *self.head.save(folder / f"{self.family}.ubj")]

    @classmethod
    def load(cls, folder: Path, family: str) -> SurvivalModel:
        path = folder / f"{family}.json"
        if not path.is_file():
            raise FileNotFoundError(f"no survival model {family} at {path}: run `dvc repro survival`")
        raw = json.loads(path.read_text())
        return cls(
            family=raw["family"],
            kind=raw["kind"],
            design=InputDesign.from_dict(raw),
            head=head_from_dict(raw, folder),
            baseline=Baseline.from_dict(raw["baseline"]),
            params=raw["params"],
            selection=raw["selection"],
        )


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
    design, x = InputDesign.fit(encoder, rows, scores, inputs)
    z = (x - np.asarray(design.means)) / np.asarray(design.stds)
    folds = stratified_folds(e, params.cv_folds, params.seed, groups)

    def cross_validated(log_hazard_of: Callable[[np.ndarray], np.ndarray]) -> tuple[float, np.ndarray]:
        """CV partial log-likelihood and out-of-fold log hazards; ``log_hazard_of(fit_rows)`` fits on
        those rows and scores every row."""
        oof, likelihood = np.empty(t.size), 0.0
        for fit_rows, held in folds:
            eta = log_hazard_of(fit_rows)
            oof[held] = eta[held]
            likelihood += partial_log_likelihood(e, t, eta) - partial_log_likelihood(
                e[fit_rows], t[fit_rows], eta[fit_rows]
            )
        return likelihood, oof

    def cox(alpha: float) -> Callable[[np.ndarray], np.ndarray]:
        return lambda rows: z @ fit_cox(z[rows], e[rows], t[rows], alpha)

    def boosted(grid: CoxBoostSetting) -> Callable[[np.ndarray], np.ndarray]:
        return lambda rows: xgb_log_hazard(fit_xgb_cox(z[rows], e[rows], t[rows], grid, params.seed), z)

    candidates: list[tuple[dict[str, Any], Callable[[np.ndarray], np.ndarray]]] = [
        ({"kind": "cox", "alpha": alpha}, cox(alpha)) for alpha in params.alphas
    ]
    candidates += [({"kind": "xgb_cox", **asdict(g)}, boosted(g)) for g in (params.xgb_grid if uses_clinical else ())]
    trials, oofs = [], []
    for setting, log_hazard_of in candidates:
        likelihood, oof = cross_validated(log_hazard_of)
        trials.append({**setting, "cv_partial_log_likelihood": likelihood, "cv_harrell_c": harrell_c(e, t, oof)})
        oofs.append(oof)
    best = max(range(len(trials)), key=lambda i: (trials[i]["cv_partial_log_likelihood"], -i))
    setting, oof = candidates[best][0], oofs[best]

    settings = {k: v for k, v in setting.items() if k != "kind"}
    if setting["kind"] == "cox":
        head: LinearHead | BoosterHead = LinearHead(fit_cox(z, e, t, setting["alpha"]).tolist())
    else:
        head = BoosterHead(fit_xgb_cox(z, e, t, CoxBoostSetting(**settings), params.seed))
    model = SurvivalModel(
        family=family,
        kind=setting["kind"],
        design=design,
        head=head,
        baseline=Baseline.fit(head.raw(z), e, t),
        params=settings,
        selection={
            "cv_folds": len(folds),
            "best_cv_partial_log_likelihood": trials[best]["cv_partial_log_likelihood"],
            "best_cv_harrell_c": trials[best]["cv_harrell_c"],
            "trials": trials,
            "training_patients": int(e.size),
            "training_events": int(e.sum()),
        },
    )
    return SurvivalFit(model, oof, trials)
