"""Contact sheets of a cohort: 16 cases per centre with the lesion outline drawn.

Example:
    >>> import numpy as np
    >>> int(outline_of(np.pad(np.ones((3, 3), bool), 1)).sum())  # a 3x3 square: 8 border pixels
    8
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image, ImageDraw
from scipy.ndimage import binary_erosion

from sonorisk.atomic_file import atomic_path
from sonorisk.imaging.codec import decode_image, decode_mask
from sonorisk.parquet_stream import open_for_streaming

TILE = 256
OUTLINE_RGB = (255, 200, 0)
READER2_RGB = (0, 200, 255)


def outline_of(mask: np.ndarray) -> np.ndarray:
    """Pixels of the mask that touch the background."""
    return mask & ~binary_erosion(mask)


def _tile(row: dict, tile: int, outcome: str | None, marks: tuple[str, str, str]) -> Image.Image:
    grey, _ = decode_image(row["image_png"])
    rgb = np.repeat(grey.astype(np.uint8)[:, :, None], 3, axis=2)
    if row.get("mask_reader2_png"):
        second, _ = decode_mask(row["mask_reader2_png"])
        rgb[outline_of(second)] = READER2_RGB
    mask, _ = decode_mask(row["mask_png"])
    rgb[outline_of(mask)] = OUTLINE_RGB
    image = Image.fromarray(rgb)
    image.thumbnail((tile, tile))
    canvas = Image.new("RGB", (tile, tile), (0, 0, 0))
    canvas.paste(image, ((tile - image.width) // 2, (tile - image.height) // 2))
    label = {True: marks[0], False: marks[1], None: marks[2]}[row.get(outcome) if outcome else None]
    caption = f"{row['patient_id']} {row.get('molecular_subtype') or ''} {row.get('tumor_size_mm') or ''}mm {label}"
    ImageDraw.Draw(canvas).text((4, tile - 14), caption, fill=(255, 255, 255))
    return canvas


def write_previews(
    cohort_path: Path,
    out_dir: Path,
    outcome: str | None = None,
    marks: tuple[str, str, str] = ("+", "-", "?"),
    per_centre: int = 16,
) -> list[Path]:
    """Write one 4x4 montage per centre (the first ``per_centre`` cases) to ``out_dir``; each case's
    caption ends with ``marks`` (positive, negative, unknown) for its ``outcome`` column."""
    out_dir.mkdir(parents=True, exist_ok=True)
    columns = [
        "patient_id",
        "center",
        "molecular_subtype",
        "tumor_size_mm",
        *([outcome] if outcome else []),
        "image_png",
        "mask_png",
    ]
    schema_names = pq.read_schema(cohort_path).names
    columns = [c for c in columns if c in schema_names]
    if "mask_reader2_png" in schema_names:
        columns.append("mask_reader2_png")
    picked: dict[str, list[dict]] = {}
    for batch in open_for_streaming(cohort_path).iter_batches(batch_size=64, columns=columns):
        for row in batch.to_pylist():
            cases = picked.setdefault(row["center"], [])
            if len(cases) < per_centre:
                cases.append(row)
    written = []
    side = int(np.ceil(np.sqrt(per_centre)))
    for centre, rows in sorted(picked.items()):
        sheet = Image.new("RGB", (side * TILE, side * TILE), (20, 20, 20))
        for k, row in enumerate(rows):
            sheet.paste(_tile(row, TILE, outcome, marks), ((k % side) * TILE, (k // side) * TILE))
        path = out_dir / f"preview_centre_{centre}.png"
        with atomic_path(path, keep_suffix=True) as partial:
            sheet.save(partial)
        written.append(path)
    return written
