"""Ingest real data: a folder of images, a folder of masks and a clinical CSV -> cohort Parquet.

A small YAML mapping file (see ``docs/ingest.md``) says how file names carry the join key, which CSV
column holds it, which CSV columns feed which cohort fields, and how outcome values read. Every CSV
row becomes one cohort row, so nothing is lost: a row whose image or mask is missing or unreadable
is still written (with the gap recorded in ``source_notes``) and validation quarantines it with a
reason. Images with no CSV row, masks with no image and unrecognised files are listed in the report.
The mapping itself is ``ingest_mapping.py``.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sonorisk.atomic_file import atomic_path, write_json
from sonorisk.cohort.folders import ClassFolders, class_folder_rows, index_files
from sonorisk.cohort.ids import broken_ids, id_rule, map_ids
from sonorisk.cohort.ingest_mapping import Mapping, Outcome, typed_value
from sonorisk.contracts.fields import load_field_contract
from sonorisk.contracts.schema import COHORT_SCHEMA
from sonorisk.imaging.codec import ImageError
from sonorisk.imaging.readers import LoadedImage, load_image, png_bytes, union_of_masks

BATCH_ROWS = 64


def _spacing(
    row: dict[str, str], mapping: Mapping, image: LoadedImage | None, flag: float | None
) -> tuple[float | None, str]:
    if mapping.spacing_column and (row.get(mapping.spacing_column) or "").strip():
        return float(row[mapping.spacing_column]), f"pixel_spacing_mm from CSV column {mapping.spacing_column}"
    if image is not None and image.spacing_mm is not None:
        return image.spacing_mm, "pixel_spacing_mm from the image file header"
    if flag is not None:
        return flag, "pixel_spacing_mm from the --pixel-spacing flag (the file format carries none)"
    return None, "pixel_spacing_mm: no source (give --pixel-spacing or map a CSV column)"


def _cohort_row(
    row: dict[str, str],
    key: str,
    images: dict[str, list[Path]],
    masks: dict[str, list[Path]],
    mapping: Mapping,
    cohort_id: str,
    flag_spacing: float | None,
    field_types: dict[str, str],
    unreadable: list[str],
) -> dict[str, Any]:
    notes: list[str] = []
    out: dict[str, Any] = {"image_png": None, "mask_png": None}
    image: LoadedImage | None = None
    if key in images:
        path = images[key][0]
        notes.append(f"image file {path.name}")
        try:
            image = load_image(path)
            out["image_png"] = png_bytes(image)
            notes.extend(image.notes)
        except (ImageError, OSError) as problem:
            out["image_png"] = path.read_bytes()  # kept as-is: validation quarantines it with the reason
            notes.append(f"image unreadable: {problem}")
            unreadable.append(path.name)
    else:
        notes.append(f"no image file for key {key}")
    if key in masks:
        try:
            merged = union_of_masks(masks[key], mapping.mask_label)
            out["mask_png"] = png_bytes(merged, as_mask=True)
            notes.extend(f"mask file {p.name}" for p in masks[key])
            notes.extend(merged.notes)
        except (ImageError, OSError) as problem:
            out["mask_png"] = masks[key][0].read_bytes()
            notes.append(f"mask unreadable: {problem}")
            unreadable.extend(p.name for p in masks[key])
    else:
        notes.append(f"no mask file for key {key}")

    spacing, spacing_note = _spacing(row, mapping, image, flag_spacing)
    notes.append(spacing_note)
    centre = mapping.center_value or (row.get(mapping.center_column or "") or "").strip() or None
    out.update(
        patient_id=row.get(mapping.patient_id_column or mapping.id_column),
        case_id=row.get(mapping.case_id_column) if mapping.case_id_column else None,
        cohort_id=cohort_id,
        center=centre,
        pixel_spacing_mm=spacing,
    )
    for target, column in mapping.fields.items():
        raw = mapping.values.get(target, {}).get(row.get(column, ""), row.get(column, ""))
        try:
            out[target] = typed_value(raw, field_types[target])
        except (ValueError, KeyError) as problem:
            out[target] = None
            notes.append(f"{target}: CSV value {raw!r} unreadable ({problem}); left null")
    for name, outcome in mapping.outcomes.items():
        value = (row.get(outcome.column) or "").strip()
        out[name] = True if value in outcome.positive else (False if value in outcome.negative else None)
        if out[name] is None:
            notes.append(f"{name}: CSV value {value!r} is neither positive nor negative; left null")
    for name, column in mapping.columns.items():
        out[name] = (row.get(column) or "").strip() or None
    out["source_notes"] = notes
    return out


def ingest_folder(
    images_dir: Path,
    masks_dir: Path | None,
    clinical_csv: Path | None,
    mapping: Mapping,
    out_path: Path,
    report_path: Path,
    pixel_spacing_mm: float | None = None,
    cohort_id: str | None = None,
    ids: str = "map",
    class_folders: ClassFolders | None = None,
) -> dict[str, Any]:
    """Build a cohort Parquet; return (and write) the ingest report.

    Args:
        masks_dir: the masks' folder; None: the images' folder (masks named by the mask pattern).
        ids: ``map`` (IDs that break the contract's rule are mapped deterministically, the original
            kept in ``source_id``) or ``refuse`` (such IDs stop the ingest, naming the rule).
        class_folders: the outcome from class sub-folders of ``images_dir`` (images and masks in
            each); no CSV is needed then, and one row is written per image.

    Raises:
        FileNotFoundError: a folder or the CSV does not exist.
        ValueError: the CSV lacks a mapped column, the mapping names an unknown cohort field, or
            (``ids="refuse"``) an ID breaks the contract's rule.
    """
    masks_dir = masks_dir or images_dir
    if ids not in ("map", "refuse"):
        raise ValueError(f"ids must be 'map' or 'refuse', not {ids!r}")
    if clinical_csv is None and class_folders is None:
        raise ValueError("a clinical CSV is needed unless the outcome comes from class folders (--class-folders)")
    for path in (images_dir, masks_dir, *([clinical_csv] if clinical_csv else [])):
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist")
    if pixel_spacing_mm is not None and pixel_spacing_mm <= 0:
        raise ValueError(f"--pixel-spacing must be positive, got {pixel_spacing_mm}")
    contract = load_field_contract()
    field_types = {name: rule.type for name, rule in contract.columns.items()}
    unknown = sorted(set(mapping.fields) - set(field_types))
    if unknown:
        raise ValueError(f"mapping names fields the cohort table does not have: {', '.join(unknown)}")
    taken = sorted(set(mapping.columns) & ({f.name for f in COHORT_SCHEMA} | set(mapping.outcomes)))
    if taken:
        raise ValueError(f"mapping csv.columns reuse cohort column names: {', '.join(taken)} (use csv.fields)")
    cohort = cohort_id or mapping.cohort_id or out_path.name.removesuffix(".parquet")

    one_folder = images_dir.resolve() == masks_dir.resolve()
    if class_folders is not None:
        images, masks, unrecognised_images, rows, negative = class_folder_rows(images_dir, mapping, class_folders)
        outcome = Outcome("__class__", class_folders.positive, negative)
        mapping = dataclasses.replace(mapping, id_column="__id__", outcomes={class_folders.outcome: outcome})
        unrecognised_masks: list[str] = []
        header: list[str] = ["__id__", "__class__"]
    else:
        assert clinical_csv is not None
        images, unrecognised_images = index_files(
            images_dir, mapping.image_key, mapping.mask_key if one_folder else None
        )
        masks, unrecognised_masks = index_files(masks_dir, mapping.mask_key)
        if one_folder:  # the images are the mask index's non-matches: list only files neither pattern claims
            unrecognised_masks = []
        with clinical_csv.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            rows = list(reader)
    needed = [
        mapping.id_column,
        mapping.patient_id_column,
        mapping.case_id_column,
        mapping.center_column,
        mapping.spacing_column,
        *mapping.fields.values(),
        *(o.column for o in mapping.outcomes.values()),
        *mapping.columns.values(),
    ]
    missing = sorted({c for c in needed if c and c not in header})
    if missing:
        raise ValueError(f"{clinical_csv}: mapped CSV column(s) missing: {', '.join(missing)}")
    rule = id_rule()
    id_column = mapping.patient_id_column or mapping.id_column
    originals = [row.get(id_column) or "" for row in rows]
    broken = broken_ids(originals, rule)
    if broken and ids == "refuse":
        raise ValueError(
            f"{len(broken)} ID(s) break the contract's rule patient_id_format {rule.pattern} "
            f"(e.g. {', '.join(repr(b) for b in broken[:3])}); pass --ids map to map them"
        )
    id_map = map_ids(originals, rule)

    # Clinical columns the mapping does not feed are left out, so an image-only source reads as one.
    unmapped_clinical = set(contract.group("clinical")) - set(mapping.fields)
    schema = pa.schema([f for f in COHORT_SCHEMA if f.name not in unmapped_clinical])
    if broken:
        schema = schema.append(pa.field("source_id", pa.string()))
    for name in mapping.outcomes:
        if name not in schema.names:
            schema = schema.append(pa.field(name, pa.bool_()))
    for name in mapping.columns:
        schema = schema.append(pa.field(name, pa.string()))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    keys_seen: set[str] = set()
    unreadable: list[str] = []
    csv_without_image: list[str] = []
    written = 0
    with atomic_path(out_path) as partial, pq.ParquetWriter(partial, schema, compression="zstd") as writer:
        for start in range(0, len(rows), BATCH_ROWS):
            batch = []
            for row in rows[start : start + BATCH_ROWS]:
                row_id = row[mapping.id_column]
                key = mapping.csv_key(row_id) or row_id
                keys_seen.add(key)
                if key not in images:
                    csv_without_image.append(row_id)
                made = _cohort_row(row, key, images, masks, mapping, cohort, pixel_spacing_mm, field_types, unreadable)
                if broken:
                    made["source_id"] = made["patient_id"]
                    made["patient_id"] = id_map.get(made["patient_id"] or "", made["patient_id"])
                    if made["patient_id"] != made["source_id"]:
                        made["source_notes"].append(
                            f"patient_id {made['source_id']!r} -> {made['patient_id']!r} (ID rule)"
                        )
                batch.append(made)
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            written += len(batch)
    report = {
        "cohort_id": cohort,
        "rows_written": written,
        "csv_rows": len(rows),
        "images_found": sum(len(v) for v in images.values()),
        "masks_found": sum(len(v) for v in masks.values()),
        "images_with_several_masks": sorted(k for k in images if len(masks.get(k, [])) > 1),
        "images_without_mask": sorted(p.name for k, v in images.items() if k not in masks for p in v),
        "masks_without_image": sorted(p.name for k, v in masks.items() if k not in images for p in v),
        "csv_rows_without_image": csv_without_image,
        "images_without_csv_row": sorted(p.name for k, v in images.items() if k not in keys_seen for p in v),
        "unrecognised_files": unrecognised_images + unrecognised_masks,
        "unreadable": unreadable,
        "one_folder": one_folder,
        "id_rule": rule.pattern,
        "ids_mapped": {original: id_map[original] for original in broken},
    }
    write_json(report_path, report, sort_keys=False)
    return report
