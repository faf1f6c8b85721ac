"""Validate a cohort: column contract -> GE suites -> image checks -> valid rows + quarantine.

Rows in = rows valid + rows quarantined, always: every input row leaves in exactly one of the two
tables, the quarantined ones with every reason (column, rule, value, contract). Problems with the
cohort as a whole raise ``CohortError`` before anything is written.

Columns outside the contract (an ingested cohort's own outcome, say ``malignant``) pass through
unchanged. Memory stays bounded for large cohorts: GE sees only the small non-image columns; images are
checked and written batch by batch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from sonorisk.atomic_file import atomic_path, write_json
from sonorisk.contracts.fields import check_columns, conform, load_field_contract, value_reasons
from sonorisk.contracts.image_checks import check_row_images, load_image_limits
from sonorisk.contracts.reasons import REASON_TYPE, CohortError, Reason
from sonorisk.contracts.schema import COHORT_SCHEMA
from sonorisk.contracts.suites import ROW_INDEX, run_suites, suite_path
from sonorisk.parquet_stream import open_for_streaming
from sonorisk.paths import COHORT_CONTRACT_DIR

BATCH_ROWS = 128
_NON_TABULAR = {"image_png", "mask_png", "mask_reader2_png", "source_notes"}

VALID_SCHEMA = COHORT_SCHEMA.append(pa.field("input_row", pa.int64())).append(
    pa.field("validation_notes", pa.list_(pa.string()))
)
QUARANTINE_SCHEMA = VALID_SCHEMA.append(pa.field("quarantine_reasons", pa.list_(REASON_TYPE)))


@dataclass(frozen=True)
class ValidateParams:
    """The ``validate:`` section of params.yaml: the day the cohorts were delivered (ISO date), which
    "not in the future" is judged against; never the wall clock."""

    run_date: str | None = None


@dataclass(frozen=True)
class ValidationSummary:
    rows_in: int
    rows_valid: int
    rows_quarantined: int
    report: dict[str, Any]


def contract_fingerprint(contracts: Path = COHORT_CONTRACT_DIR) -> dict[str, str]:
    """SHA-256 of each contract file in force, for provenance."""
    files = ["fields.yaml", "images.yaml", suite_path("cohort").name, suite_path("clinical").name]
    return {name: hashlib.sha256((contracts / name).read_bytes()).hexdigest() for name in files}


def open_cohort(path: Path) -> pq.ParquetFile:
    """Open a cohort file or raise a one-line ``CohortError``."""
    if not path.exists():
        raise CohortError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise CohortError(f"{path}: the file is empty (0 bytes)")
    try:
        parquet = open_for_streaming(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise CohortError(f"{path}: not a readable Parquet file ({exc})") from None
    if parquet.metadata.num_rows == 0:
        raise CohortError(f"{path}: the cohort has no rows", rule="non_empty")
    return parquet


def _optional_null_notes(row: dict[str, Any], optional: list[str]) -> list[str]:
    return [f"{name}: null (optional field)" for name in optional if row.get(name) is None]


def validate_cohort(
    cohort_path: Path,
    valid_path: Path,
    quarantine_path: Path,
    docs_dir: Path | None = None,
    run_date: dt.date | None = None,
    progress: bool = True,
    contracts: Path = COHORT_CONTRACT_DIR,
) -> ValidationSummary:
    """Split a cohort into valid and quarantined rows and summarise why.

    Args:
        cohort_path: the cohort Parquet.
        valid_path: where the valid rows go (cohort schema + ``input_row``, ``validation_notes``).
        quarantine_path: where failing rows go, with ``quarantine_reasons``.
        docs_dir: GE Data Docs output folder (None: no HTML).
        run_date: the date "not in the future" is judged against (default: today).
        progress: show a progress bar.
        contracts: the contract folder (``fields.yaml``, ``images.yaml``, the suites): the project's
            ``data_contracts/cohort``, or the copy a frozen bundle carries when it scores.

    Raises:
        CohortError: unreadable file, no rows, missing required column, wrong column type.
    """
    source = str(cohort_path)
    parquet = open_cohort(cohort_path)
    contract = load_field_contract(contracts / "fields.yaml")
    columns = check_columns(parquet.schema_arrow, contract, source)
    limits = load_image_limits(contracts / "images.yaml")
    run_date = run_date or dt.date.today()

    tabular = [name for name in COHORT_SCHEMA.names if name not in _NON_TABULAR]
    present = [name for name in tabular if name in parquet.schema_arrow.names]
    frame = conform(parquet.read(columns=present), source, tabular).to_pandas()
    frame[ROW_INDEX] = range(len(frame))
    suites = ("cohort", "clinical") if columns.has_clinical else ("cohort",)
    outcome = run_suites(frame, suites, run_date, docs_dir, contracts)
    del frame

    # Nulls worth recording: optional clinical fields (identity and outcome nulls are routine).
    optional = (
        [n for n in contract.group("clinical") if not contract.columns[n].required] if columns.has_clinical else []
    )
    rule_counts: Counter[str] = Counter()
    note_counts: Counter[str] = Counter()
    centre_counts: dict[str, Counter[str]] = {}
    valid_path.parent.mkdir(parents=True, exist_ok=True)
    quarantine_path.parent.mkdir(parents=True, exist_ok=True)
    extra_fields = [parquet.schema_arrow.field(name) for name in columns.extra_columns]
    valid_schema = pa.schema([*VALID_SCHEMA, *extra_fields])
    quarantine_schema = pa.schema([*QUARANTINE_SCHEMA, *extra_fields])
    n_in = n_valid = n_quarantined = 0
    bar = tqdm(total=parquet.metadata.num_rows, unit="row", desc="validate", disable=not progress)
    with (
        atomic_path(valid_path) as valid_tmp,
        atomic_path(quarantine_path) as quarantine_tmp,
        pq.ParquetWriter(valid_tmp, valid_schema, compression="zstd") as valid_out,
        pq.ParquetWriter(quarantine_tmp, quarantine_schema, compression="zstd") as quarantine_out,
    ):
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            raw = pa.Table.from_batches([batch])
            rows = conform(raw, source).to_pylist()
            for row, extra in zip(rows, raw.select(columns.extra_columns).to_pylist(), strict=True):
                row.update(extra)
            valid_rows, held_rows = [], []
            for row in rows:
                index = n_in
                n_in += 1
                verdict = check_row_images(row["image_png"], row["mask_png"], row["mask_reader2_png"], limits)
                reasons: list[Reason] = outcome.reasons.get(index, []) + value_reasons(row, contract) + verdict.reasons
                notes = verdict.notes + _optional_null_notes(row, optional)
                if verdict.drop_reader2:
                    row["mask_reader2_png"] = None
                row.update(input_row=index, validation_notes=notes)
                note_counts.update(notes)
                tally = centre_counts.setdefault(str(row["center"]), Counter())
                if reasons:
                    row["quarantine_reasons"] = [r.as_dict() for r in reasons]
                    held_rows.append(row)
                    rule_counts.update(f"{r.column}: {r.rule}" for r in reasons)
                    tally["quarantined"] += 1
                else:
                    valid_rows.append(row)
                    tally["valid"] += 1
            valid_out.write_table(pa.Table.from_pylist(valid_rows, schema=valid_schema))
            quarantine_out.write_table(pa.Table.from_pylist(held_rows, schema=quarantine_schema))
            n_valid += len(valid_rows)
            n_quarantined += len(held_rows)
            bar.update(len(rows))
        # Checked before the files are renamed into place: broken accounting writes nothing.
        if n_in != n_valid + n_quarantined or n_in != parquet.metadata.num_rows:
            raise RuntimeError(f"row accounting broken: in {n_in}, valid {n_valid}, quarantined {n_quarantined}")
    bar.close()

    report = {
        "cohort": source,
        "run_date": run_date.isoformat(),
        "rows_in": n_in,
        "rows_valid": n_valid,
        "rows_quarantined": n_quarantined,
        "image_only_cohort": not columns.has_clinical,
        "suites_applied": list(suites),
        "suite_success": outcome.suite_success,
        "reasons_by_rule": dict(sorted(rule_counts.items())),
        "by_centre": {c: dict(t) for c, t in sorted(centre_counts.items())},
        "notes": dict(sorted(note_counts.items())),
        "columns_added_as_null": columns.added_columns,
        "columns_passed_through": columns.extra_columns,
        "contract_sha256": contract_fingerprint(contracts),
    }
    return ValidationSummary(n_in, n_valid, n_quarantined, report)


def write_summary(summary: ValidationSummary, path: Path) -> None:
    write_json(path, summary.report)
