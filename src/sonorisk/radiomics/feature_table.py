"""The radiomics feature table: its columns (identity and provenance first, then one float per
feature), its provenance metadata, and the in-order assembly of records that arrive out of order."""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow as pa

from sonorisk.atomic_file import write_parquet
from sonorisk.provenance import code_sha256, package_versions, python_version
from sonorisk.radiomics.settings import RadiomicsSettings

ID_COLUMNS = ["patient_id", "cohort_id", "center"]
META_COLUMNS = [*ID_COLUMNS, "mask_source", "status", "error", "roi_pixels", "settings_sha256", "pyradiomics_version"]


@lru_cache(maxsize=1)
def pyradiomics_version() -> str:
    try:
        return metadata.version("pyradiomics-bhklab")
    except metadata.PackageNotFoundError:
        return "unknown"


def feature_schema(names: list[str], perturbed: bool = False) -> pa.Schema:
    """Identity and provenance columns first, then one float column per feature."""
    fields = [pa.field(c, pa.int64() if c == "roi_pixels" else pa.string()) for c in META_COLUMNS]
    if perturbed:
        fields.append(pa.field("perturbation", pa.int64()))
    return pa.schema(fields + [pa.field(n, pa.float64()) for n in names])


def provenance(settings: RadiomicsSettings) -> dict[str, Any]:
    """Versions, settings hash and code hash for Parquet schema metadata."""
    versions = package_versions(("pyradiomics-bhklab", "numpy", "SimpleITK", "PyWavelets", "ray", "pyarrow"))
    return {
        "settings_sha256": settings.sha256,
        "settings_source": Path(settings.source).name,
        "versions": versions,
        "python": python_version(),
        "code_sha256": code_sha256(),
    }


class OrderedRecords:
    """Records that arrive out of order, kept in input order as Arrow batches.

    A case's record is a dict of ~1,000 Python floats (~100 KB); Arrow holds the same row in ~8 KB.
    Records wait as dicts only until every earlier case has arrived, so the driver's memory stays
    flat however large the cohort (10,000 cases as dicts would be ~1 GB).
    """

    def __init__(self, schema: pa.Schema, flush_rows: int = 256) -> None:
        self.schema = schema
        self.flush_rows = flush_rows
        self.waiting: dict[int, dict[str, Any]] = {}
        self.ready: list[dict[str, Any]] = []
        self.batches: list[pa.RecordBatch] = []
        self.next_index = 0
        self.lock = threading.Lock()  # the warm-start thread and the collector may add at once

    def __setitem__(self, index: int, record: dict[str, Any]) -> None:
        with self.lock:
            self.waiting[index] = record
            while self.next_index in self.waiting:
                self.ready.append(self.waiting.pop(self.next_index))
                self.next_index += 1
            if len(self.ready) >= self.flush_rows:
                self._flush()

    def _flush(self) -> None:
        if self.ready:
            self.batches.append(pa.RecordBatch.from_pylist(self.ready, schema=self.schema))
            self.ready = []

    def table(self) -> pa.Table:
        if self.waiting:
            raise RuntimeError(f"cases {sorted(self.waiting)[:5]} arrived but case {self.next_index} never did")
        self._flush()
        return pa.Table.from_batches(self.batches, schema=self.schema)


def write_feature_table(
    table: pa.Table, path: Path, settings: RadiomicsSettings, extra: dict[str, Any] | None = None
) -> None:
    """Write features with provenance (and ``extra``, e.g. perturbation settings) in the Parquet
    schema metadata."""
    meta = {b"sonorisk.radiomics": json.dumps(provenance(settings) | (extra or {}), sort_keys=True).encode()}
    write_parquet(table.replace_schema_metadata(meta), path)
