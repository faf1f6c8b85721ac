"""Reading a cohort Parquet file batch by batch without the reader holding on to the whole file.

``pyarrow.parquet.ParquetFile`` pre-buffers by default: it reads ahead into a cache that is kept
until the reader is closed, so iterating over a file of images grows the process by the file's
size (figures in docs/performance.md). Every pass that streams a cohort (validation, row hashing,
radiomics, previews) opens it here.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq


def open_for_streaming(path: Path) -> pq.ParquetFile:
    """A ``ParquetFile`` whose ``iter_batches`` keeps only the current batch in memory."""
    return pq.ParquetFile(path, pre_buffer=False)
