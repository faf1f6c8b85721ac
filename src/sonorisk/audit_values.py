"""Two versions of one output file compared by what they hold, not only by their bytes.

A file's bytes can differ while its content does not: a PNG encoder's output depends on its zlib
build, a Parquet writer's on its compression. The audit says which it is: **identical** (same
bytes), **equal by value** (decoded pixels equal; Parquet tables equal column by column, images
decoded, floating-point values within ``FEATURE_RTOL`` relative for feature tables and
``SCORE_ATOL`` absolute elsewhere; JSON equal with the same float tolerances) or **differs**, with
the first difference named (column and row, or the JSON key).

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> from PIL import Image
    >>> pixels = (np.arange(64 * 64) % 251).astype(np.uint8).reshape(64, 64)
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> Image.fromarray(pixels).save(folder / "a.png", compress_level=1)
    >>> Image.fromarray(pixels).save(folder / "b.png", compress_level=9)
    >>> compare_files(folder / "a.png", folder / "b.png", "x.png").kind
    'equal by value'
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sonorisk import paths
from sonorisk.provenance import file_sha256

FEATURE_RTOL = 1e-9  # radiomics feature tables: pyradiomics' arithmetic, any CPU
SCORE_ATOL = 1e-6  # probabilities and scores: far below any reported digit


@dataclass(frozen=True)
class Verdict:
    kind: str  # "identical", "equal by value" or "differs"
    detail: str = ""


def _close(a: float, b: float, relative: bool) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    if relative:
        return math.isclose(a, b, rel_tol=FEATURE_RTOL, abs_tol=0.0)
    return abs(a - b) <= SCORE_ATOL


def _pixels(data: bytes) -> np.ndarray | None:
    from sonorisk.imaging.codec import ImageError, decode_image

    try:
        return decode_image(data)[0]
    except ImageError:
        return None


def _same_image(a: bytes | None, b: bytes | None) -> bool:
    if a == b:
        return True
    if a is None or b is None:
        return False
    first, second = _pixels(a), _pixels(b)
    return first is not None and second is not None and np.array_equal(first, second)


def _values_equal(a: Any, b: Any, relative: bool) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return _close(a, b, relative)
    if isinstance(a, bytes) and isinstance(b, bytes):
        return _same_image(a, b)
    return bool(a == b)


def _parquet(a: Path, b: Path, relative: bool) -> Verdict:
    import pyarrow.parquet as pq

    first, second = pq.read_table(a), pq.read_table(b)
    if first.schema.remove_metadata() != second.schema.remove_metadata():
        return Verdict("differs", "schema")
    if first.num_rows != second.num_rows:
        return Verdict("differs", f"{first.num_rows} rows against {second.num_rows}")
    for name in first.column_names:
        left, right = first.column(name).to_pylist(), second.column(name).to_pylist()
        for row, (x, y) in enumerate(zip(left, right, strict=True)):
            if not _values_equal(x, y, relative):
                return Verdict("differs", f"column {name}, row {row}: {str(x)[:40]} against {str(y)[:40]}")
    how = "metadata differs" if first.schema.metadata != second.schema.metadata else "encoding differs"
    return Verdict("equal by value", how)


def _json(a: Any, b: Any, where: str, relative: bool) -> str | None:
    """Where two parsed JSON documents first differ, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{where}.{key}: present on one side only"
            found = _json(a[key], b[key], f"{where}.{key}", relative)
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} items against {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _json(x, y, f"{where}[{i}]", relative)
            if found:
                return found
        return None
    if (isinstance(a, float) and isinstance(b, int | float)) or (isinstance(b, float) and isinstance(a, int | float)):
        return None if _close(float(a), float(b), relative) else f"{where}: {a} against {b}"
    return None if a == b else f"{where}: {str(a)[:40]} against {str(b)[:40]}"


def compare_files(first: Path, second: Path, relative_path: str) -> Verdict:
    """How the ``second`` version of an output compares with the ``first``."""
    if file_sha256(first) == file_sha256(second):
        return Verdict("identical")
    return compare_values(first, second, relative_path)


def compare_values(first: Path, second: Path, relative_path: str) -> Verdict:
    """Two versions already known to differ in their bytes: equal by value, or where they differ."""
    relative = relative_path.startswith(f"{paths.FEATURES_DIR.as_posix()}/")
    suffix = first.suffix.lower()
    if suffix == ".parquet":
        return _parquet(first, second, relative)
    if suffix == ".png":
        same = _same_image(first.read_bytes(), second.read_bytes())
        return Verdict("equal by value", "pixels equal") if same else Verdict("differs", "pixels")
    if suffix == ".json":
        found = _json(json.loads(first.read_text()), json.loads(second.read_text()), "$", relative)
        return Verdict("equal by value", "numbers within tolerance") if found is None else Verdict("differs", found)
    return Verdict("differs", "bytes")
