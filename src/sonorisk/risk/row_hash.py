"""Row hashes: what makes a scored row the same row to score again.

Each valid row's hash covers its data (image, masks, clinical fields, spacing) and a salt (the bundle
hash and its radiomics settings hash), never what validation adds nor the study's labels: a
relabelled row, or one followed longer, keeps its scores.
"""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa
import pyarrow.parquet as pq

from sonorisk.contracts.schema import table_keys

_NOT_HASHED = {"input_row", "validation_notes"}  # what validation adds


def row_hashes(table: pa.Table | pa.RecordBatch, salt: str, labels: tuple[str, ...] = ()) -> list[str]:
    """SHA-256 per row of every scoring-relevant column (sorted by name) plus ``salt``; ``labels``
    (the study's outcome and follow-up columns) are not scoring-relevant."""
    ignored = _NOT_HASHED | set(labels)
    names = sorted(c for c in table.schema.names if c not in ignored)
    out = []
    for row in table.select(names).to_pylist():
        digest = hashlib.sha256(salt.encode())
        for name in names:
            value = row[name]
            data = value if isinstance(value, bytes) else json.dumps(value, default=str).encode()
            digest.update(f"{name}:{len(data)}:".encode())
            digest.update(data)
        out.append(digest.hexdigest())
    return out


def hash_file_rows(
    valid: pq.ParquetFile, salt: str, labels: tuple[str, ...]
) -> tuple[list[tuple[str, str]], dict[tuple[str, str], str]]:
    """(row keys in file order, key -> row hash), streamed in batches: a 10,000-patient cohort's
    images never sit in memory at once."""
    keys: list[tuple[str, str]] = []
    hashes: dict[tuple[str, str], str] = {}
    for batch in valid.iter_batches(batch_size=128):
        batch_keys = table_keys(batch)
        keys.extend(batch_keys)
        hashes.update(zip(batch_keys, row_hashes(batch, salt, labels), strict=True))
    return keys, hashes
