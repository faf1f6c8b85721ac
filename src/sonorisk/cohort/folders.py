"""Where a delivery's images and masks are: one folder or two, or class sub-folders whose names are
the outcome. Files are indexed by the join key the mapping's patterns take from their names.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sonorisk.imaging.readers import is_image_file


def index_files(folder: Path, key_of: Any, skip: Any = None) -> tuple[dict[str, list[Path]], list[str]]:
    """Files of ``folder`` by join key; names ``skip`` claims (masks, when images share the folder)
    are left to the other index."""
    found: dict[str, list[Path]] = defaultdict(list)
    unrecognised = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or (skip is not None and skip(path.name)):
            continue
        key = key_of(path.name) if is_image_file(path) else None
        if key is None:
            unrecognised.append(path.name)
        else:
            found[key].append(path)
    return found, unrecognised


@dataclass(frozen=True)
class ClassFolders:
    """The outcome read from sub-folder names (``benign/``, ``malignant/``), when no CSV carries it."""

    outcome: str  # the boolean column to write
    positive: list[str]  # sub-folders whose images are positive; every other sub-folder is negative


def class_folder_rows(
    images_dir: Path, mapping: Any, classes: ClassFolders
) -> tuple[dict[str, list[Path]], dict[str, list[Path]], list[str], list[dict[str, str]], list[str]]:
    """Images and masks of every class sub-folder, one CSV-like row per image (``__id__``,
    ``__class__``), and the negative class folders."""
    images: dict[str, list[Path]] = {}
    masks: dict[str, list[Path]] = defaultdict(list)
    unrecognised: list[str] = []
    rows = []
    folders = sorted(p for p in images_dir.iterdir() if p.is_dir())
    if not folders:
        raise ValueError(f"{images_dir} has no class sub-folders (--class-folders)")
    for folder in folders:
        found, odd = index_files(folder, mapping.image_key, mapping.mask_key)
        outlines, _ = index_files(folder, mapping.mask_key)
        unrecognised.extend(f"{folder.name}/{n}" for n in odd)
        for key, paths in found.items():
            if key in images:
                raise ValueError(f"image {key!r} is in two class folders ({images[key][0].parent.name}, {folder.name})")
            images[key] = paths
            rows.append({"__id__": key, "__class__": folder.name})
        for key, paths in outlines.items():
            masks[key].extend(paths)
    negative = [f.name for f in folders if f.name not in classes.positive]
    return images, dict(masks), unrecognised, rows, negative
