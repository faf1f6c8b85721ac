"""The ``study:`` section of params.yaml: what is predicted, from which cohorts, developed and
validated where. Every stage may read it; generic code takes the outcome and follow-up columns from
here (or from the bundle, which records them), never from a constant."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Study:
    outcome: str  # the label column
    development_centre: str  # a value of the `center` column
    external_centres: tuple[str, ...] = ()
    name: str = "unnamed study"
    cohorts: dict[str, str] = field(default_factory=dict)  # name -> `synthetic` or a source note
    outcome_wording: str = ""  # how reports name the outcome (empty: its column name)
    person_column: str | None = None  # rows of one person stay together; null: one row, one person
    followup_column: str = "followup_months"  # months to the outcome or to censoring, where known
    pretraining_cohorts: dict[str, str] = field(default_factory=dict)  # unlabelled, for dl_pretrain
    batch_column: str | None = None  # the scanner or centre column radiomics harmonisation reads; null: none
