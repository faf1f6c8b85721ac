"""The study's rows as the DL stages read them: the split's cases with their split, outcome and person,
and the zoo's architectures with the preprocessing every stage builds them with. No torch: the
pretraining and training stages share this without sharing each other's code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from sonorisk.contracts.reasons import CohortError
from sonorisk.contracts.schema import ROW_KEY, row_key
from sonorisk.params import ParamsError

SPLIT_COLUMNS = (*ROW_KEY, "split", "outcome")
CASE_COLUMNS = [*ROW_KEY, "image_png", "mask_png"]


def load_training_rows(
    cohorts: list[Path], split_path: Path
) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray, list[str]]:
    """Cases of the split (every cohort row the split names), their split names, outcomes and persons.

    Raises:
        CohortError: the split lacks a column, no training rows remain, or the training rows lack two
            patients of each outcome.
    """
    split_table = pq.read_table(split_path)
    missing = [c for c in SPLIT_COLUMNS if c not in split_table.column_names]
    if missing:
        raise CohortError(f"{split_path} lacks column(s) {', '.join(missing)}: is it the split stage's output?")
    columns = [*SPLIT_COLUMNS, *(["person"] if "person" in split_table.column_names else [])]
    split_rows = {row_key(r): r for r in split_table.select(columns).to_pylist()}
    rows: list[dict[str, Any]] = []
    for cohort in cohorts:
        table = pq.read_table(cohort, columns=CASE_COLUMNS)
        rows.extend(r for r in table.to_pylist() if row_key(r) in split_rows)
    split = np.array([split_rows[row_key(r)]["split"] for r in rows], dtype=object)
    outcome = np.array([bool(split_rows[row_key(r)]["outcome"]) for r in rows])
    persons = [str(split_rows[row_key(r)].get("person") or "|".join(row_key(r))) for r in rows]
    if not (split == "training").any():
        raise CohortError(f"no training rows: the cohorts {[str(c) for c in cohorts]} do not match {split_path}")
    positives = int(outcome[split == "training"].sum())
    if positives < 2 or positives > int((split == "training").sum()) - 2:
        raise CohortError(
            f"the training split has {positives} positive of {int((split == 'training').sum())} patients: at least "
            "two of each outcome are needed for cross-validated training and selection (a larger cohort is needed)"
        )
    return rows, split, outcome, persons


@dataclass(frozen=True)
class DlProfile:
    """One entry of ``dl_train.profiles``: crop size and the training budget."""

    input_size: int
    epochs: int
    batch_size: int


@dataclass(frozen=True)
class DlTrainParams:
    """The ``dl_train:`` section of params.yaml (``dl_pretrain`` reads its zoo recipe too)."""

    models: dict[str, dict[str, Any] | None]  # architecture -> its options (the zoo)
    profiles: dict[str, DlProfile]
    profile: str = "cpu"
    crop_margin: float = 0.5
    normalise: str | None = None  # None: the architecture's default
    lr: float = 1e-3
    weight_decay: float = 0.05
    patience: int = 4
    min_epochs: int = 3
    oof_folds: int = 3
    prefer: tuple[str, ...] = ()
    seed: int = 0
    threads: int = 2
    init_weights: str | None = None
    pretrained: str | None = None

    def __post_init__(self) -> None:
        if self.profile not in self.profiles:
            known = ", ".join(self.profiles)
            raise ParamsError(f"dl_train.profile {self.profile!r} is not one of dl_train.profiles ({known})")


def zoo_from_params(params: DlTrainParams) -> dict[str, dict[str, Any]]:
    """The zoo of a ``dl_train`` section (``zoo_recipe``)."""
    input_size = params.profiles[params.profile].input_size
    return zoo_recipe(params.models, input_size, params.crop_margin, params.normalise)


def zoo_recipe(
    models: Mapping[str, Mapping[str, Any] | None], input_size: int, crop_margin: float, normalise: str | None
) -> dict[str, dict[str, Any]]:
    """Model name -> overrides: the profile's input size and the crop margin, then each model's own."""
    shared: dict[str, Any] = {"input_size": input_size, "crop_margin": crop_margin}
    shared |= {"normalise": normalise} if normalise is not None else {}
    return {name: shared | dict(options or {}) for name, options in models.items()}
