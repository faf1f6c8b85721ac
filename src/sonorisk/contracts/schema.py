"""The cohort table: one row per patient-lesion (see DESIGN.md, "Data model").

The Arrow schema here is what ``synth`` and ``ingest`` write and what the contracts check.

Example:
    >>> t_stage_for_size(12.0), t_stage_for_size(35.0), t_stage_for_size(60.0)
    ('T1', 'T2', 'T3')
    >>> "patient_id" in COHORT_SCHEMA.names
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

SUBTYPES = ("luminal_a", "luminal_b", "her2_enriched", "triple_negative")
N_STAGES = ("N0", "N1", "N2", "N3")

# T stage by largest diameter (AJCC 8th): T1 <= 20 mm < T2 <= 50 mm < T3. T4 is any size with
# chest-wall or skin extension, so the image alone cannot tell it.
T1_MAX_MM = 20.0
T2_MAX_MM = 50.0

# The study's outcome column is not here: a study names it (``study.outcome``) and it passes through
# validation as one of the cohort's own columns.
# What names a row everywhere (partitions, score tables, feature tables): a patient id is unique
# within its cohort, not across cohorts.
ROW_KEY = ("cohort_id", "patient_id")


def row_key(row: Mapping[str, Any]) -> tuple[str, str]:
    """A row's key (``ROW_KEY``) from a dict of its columns."""
    return row["cohort_id"], row["patient_id"]


def table_keys(table: Any) -> list[tuple[str, str]]:
    """Every row's key (``ROW_KEY``), in order, from an Arrow table or record batch."""
    return list(zip(*(table.column(c).to_pylist() for c in ROW_KEY), strict=True))


COHORT_SCHEMA = pa.schema(
    [
        pa.field("patient_id", pa.string()),
        pa.field("case_id", pa.string()),
        pa.field("cohort_id", pa.string()),
        pa.field("center", pa.string()),
        pa.field("surgery_date", pa.date32()),
        pa.field("age", pa.int64()),
        pa.field("menopausal_status", pa.string()),
        pa.field("tumor_size_mm", pa.float64()),
        pa.field("t_stage", pa.string()),
        pa.field("n_stage", pa.string()),
        pa.field("histologic_grade", pa.int64()),
        pa.field("er_status", pa.string()),
        pa.field("pr_status", pa.string()),
        pa.field("her2_status", pa.string()),
        pa.field("ki67_pct", pa.float64()),
        pa.field("molecular_subtype", pa.string()),
        pa.field("lvi", pa.bool_()),
        pa.field("image_png", pa.binary()),
        pa.field("mask_png", pa.binary()),
        pa.field("mask_reader2_png", pa.binary()),
        pa.field("pixel_spacing_mm", pa.float64()),
        pa.field("followup_months", pa.float64()),
        pa.field("source_notes", pa.list_(pa.string())),
    ]
)

CLINICAL_COLUMNS = (
    "surgery_date",
    "age",
    "menopausal_status",
    "tumor_size_mm",
    "t_stage",
    "n_stage",
    "histologic_grade",
    "er_status",
    "pr_status",
    "her2_status",
    "ki67_pct",
    "molecular_subtype",
    "lvi",
)


def t_stage_for_size(size_mm: float) -> str:
    """T stage implied by tumour size alone (T4 needs extension, which size cannot show)."""
    if size_mm <= T1_MAX_MM:
        return "T1"
    if size_mm <= T2_MAX_MM:
        return "T2"
    return "T3"
