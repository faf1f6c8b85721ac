"""The survival job of the DVC stage (``sonorisk survival-evaluate`` reuses its scoring): fit every
survival family on the training split's out-of-fold scores and follow-up, write the models, and score
patients.

A study whose cohorts carry no follow-up (an image-level diagnostic study) has no survival models:
``run_survival`` returns None, and the models folder holds only ``selection.json`` saying why.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sonorisk.atomic_file import write_json, write_parquet
from sonorisk.fusion.score_table import KEY, clinical_rows, read_clinical, score_columns
from sonorisk.fusion.survival import FAMILIES, SurvivalModel, SurvivalParams, fit_survival

FOLLOWUP = "followup_months"
RISK_HORIZONS = (24, 36)  # the risk-table columns risk_24m and risk_36m
SELECTION_FILE = "selection.json"
GROUPS_FILE = "risk_groups.json"
GROUP_HORIZON = 24  # risk groups: tertiles of the survival fusion's training risk by 24 months
GROUP_NAMES = ("low", "intermediate", "high")
NO_FOLLOWUP = "no cohort carries follow-up (followup_months): no time-to-event models"


def risk_column(family: str, horizon: int) -> str:
    return f"{family}_risk_{horizon}m"


def read_followup(validated: Sequence[Path], column: str = FOLLOWUP) -> pl.DataFrame | None:
    """Key + follow-up of every validated cohort that has the column; None when none has any value."""
    frames = []
    for path in validated:
        if column in pl.read_parquet_schema(path):
            frames.append(pl.read_parquet(path, columns=[*KEY, column]).rename({column: FOLLOWUP}))
    if not frames:
        return None
    table = pl.concat(frames, how="vertical_relaxed").with_columns(pl.col(FOLLOWUP).cast(pl.Float64))
    return table if table[FOLLOWUP].is_not_null().any() else None


def with_inputs(scores: pl.DataFrame, validated: Sequence[Path], followup: pl.DataFrame) -> pl.DataFrame:
    """The fusion score table joined with the clinical fields and the follow-up."""
    # Sorted by key: CV folds are drawn by row position, so row order must not depend on the join.
    joined = scores.join(read_clinical(validated), on=KEY, how="left", suffix="_clinical", maintain_order="left")
    return joined.join(followup, on=KEY, how="left", maintain_order="left").sort(KEY)


def score_survival(models: dict[str, SurvivalModel], table: pl.DataFrame) -> pl.DataFrame:
    """Key, centre, split, outcome, follow-up and per family its log hazard and risk by 24 and 36 months."""
    rows = clinical_rows(table)
    columns: list[pl.Series] = []
    for family, model in models.items():
        scores = score_columns(table, model.score_inputs)
        log_hazard = model.decision_function(rows, scores)
        columns.append(pl.Series(f"{family}_log_hazard", log_hazard))
        for h in RISK_HORIZONS:
            columns.append(pl.Series(risk_column(family, h), model.baseline.risk_at(log_hazard, h)))
    keep = [c for c in (*KEY, "center", "split", "outcome", FOLLOWUP) if c in table.columns]
    return table.select(keep).with_columns(columns)


@dataclass(frozen=True)
class SurvivalInputs:
    fusion_scores: Path
    validated: Sequence[Path]


def run_survival(
    inputs: SurvivalInputs, params: SurvivalParams, model_dir: Path, scores_out: Path
) -> dict[str, Any] | None:
    """Fit every family on training rows, save, score every patient (training rows out-of-fold)."""
    followup = read_followup(inputs.validated)
    model_dir.mkdir(parents=True, exist_ok=True)
    if followup is None:
        for stale in model_dir.glob("*"):
            stale.unlink()
        write_json(model_dir / SELECTION_FILE, {"survival": None, "reason": NO_FOLLOWUP})
        return None
    table = with_inputs(pl.read_parquet(inputs.fusion_scores), inputs.validated, followup)
    usable = pl.col("outcome").is_not_null() & pl.col(FOLLOWUP).is_not_null()
    train = table.filter((pl.col("split") == "training") & usable)
    rows, event, time = clinical_rows(train), train["outcome"].to_numpy().astype(bool), train[FOLLOWUP].to_numpy()
    groups = train["person"].to_list() if "person" in train.columns else None
    models, oof, files, selection = {}, {}, [], {}
    for family in FAMILIES:
        _, inputs_read = FAMILIES[family]
        fitted = fit_survival(family, rows, score_columns(train, inputs_read), event, time, params, groups)
        models[family], oof[family] = fitted.model, fitted.oof_log_hazard
        files += fitted.model.save(model_dir)
        selection[family] = {"kind": fitted.model.kind, **fitted.model.selection, "params": fitted.model.params}
    files.append(write_json(model_dir / SELECTION_FILE, selection, default=float))

    scored = score_survival(models, table)
    # Training patients carry their out-of-fold log hazard, like every other score they carry.
    train_keys = train.select(KEY).with_row_index("_oof_row")
    scored = scored.join(train_keys, on=KEY, how="left", maintain_order="left")
    is_train = scored["_oof_row"].is_not_null().to_numpy()
    positions = scored["_oof_row"].fill_null(0).to_numpy().astype(int)
    replaced = []
    for family, model in models.items():
        log_hazard = scored[f"{family}_log_hazard"].to_numpy().copy()
        log_hazard[is_train] = oof[family][positions[is_train]]
        replaced.append(pl.Series(f"{family}_log_hazard", log_hazard))
        for h in RISK_HORIZONS:
            replaced.append(pl.Series(risk_column(family, h), model.baseline.risk_at(log_hazard, h)))
    scored = scored.drop("_oof_row").with_columns(replaced)
    write_parquet(scored, scores_out)
    files.append(
        write_json(model_dir / GROUPS_FILE, {"horizon_months": GROUP_HORIZON, "cutpoints": group_cutpoints(scored)})
    )
    return {
        "families": selection,
        "files": [str(f) for f in files],
        "patients": scored.height,
        "training_patients": train.height,
        "training_events": int(event.sum()),
    }


def group_cutpoints(scored: pl.DataFrame) -> list[float]:
    """Tertile cutpoints of the survival fusion's out-of-fold training risk by ``GROUP_HORIZON``."""
    train = scored.filter(pl.col("split") == "training")[risk_column("survival_fusion", GROUP_HORIZON)]
    return [float(q) for q in np.quantile(train.drop_nulls().to_numpy(), [1 / 3, 2 / 3])]


def risk_groups(risk: np.ndarray, cutpoints: Sequence[float]) -> list[str]:
    """low / intermediate / high by the training tertile cutpoints."""
    return [GROUP_NAMES[int(np.searchsorted(cutpoints, r, side="right"))] for r in np.asarray(risk)]


def load_cutpoints(model_dir: Path) -> list[float]:
    return list(json.loads((model_dir / GROUPS_FILE).read_text())["cutpoints"])


def load_models(model_dir: Path) -> dict[str, SurvivalModel]:
    """Every family saved in ``model_dir`` (empty for a study without follow-up)."""
    return {f: SurvivalModel.load(model_dir, f) for f in FAMILIES if (model_dir / f"{f}.json").is_file()}
