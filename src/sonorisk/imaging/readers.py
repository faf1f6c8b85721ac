"""Read image and mask files from disk: PNG/JPEG/BMP/TIFF through Pillow, medical formats
(NRRD, NIfTI, DICOM, MetaImage) through SimpleITK, which also gives their pixel spacing.

Example:
    >>> is_medical_format(Path("case.nii.gz")), is_medical_format(Path("case.png"))
    (True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sonorisk.imaging.codec import ImageError, binarize_mask, decode_image, decode_mask, encode_png, storable_grey

MEDICAL_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".dcm", ".mha", ".mhd")
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class LoadedImage:
    """A file's pixels, the spacing it carries (None for plain pictures) and conversion notes."""

    pixels: np.ndarray
    spacing_mm: float | None
    notes: list[str]


def is_medical_format(path: Path) -> bool:
    return path.name.lower().endswith(MEDICAL_SUFFIXES)


def is_image_file(path: Path) -> bool:
    return path.name.lower().endswith(MEDICAL_SUFFIXES + PICTURE_SUFFIXES)


def _read_medical(path: Path, what: str) -> tuple[np.ndarray, float | None, list[str]]:
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise ImageError(
            "decodes", f"{what} {path.name}: SimpleITK cannot read it ({str(exc).strip()[:120]})"
        ) from None
    array = sitk.GetArrayFromImage(image)
    notes: list[str] = []
    if image.GetNumberOfComponentsPerPixel() > 1:
        array = array[..., :3].mean(axis=-1) if array.shape[-1] >= 3 else array[..., 0]
        notes.append(f"{what}: multi-component pixels -> greyscale (mean of colour channels)")
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ImageError("greyscale", f"{what} {path.name}: a volume of shape {array.shape}; one 2-D frame expected")
    sx, sy = image.GetSpacing()[:2]
    if abs(sx - sy) > 0.01 * max(sx, sy):
        notes.append(f"{what}: anisotropic spacing {sx:.4g} x {sy:.4g} mm; pixel_spacing_mm uses the column spacing")
    return array, float(sx), notes


def load_image(path: Path) -> LoadedImage:
    """Greyscale pixels of an image file (uint8 or uint16) and its spacing, if the format has one."""
    if is_medical_format(path):
        array, spacing, notes = _read_medical(path, "image")
        grey, grey_notes = storable_grey(array, "image")
        return LoadedImage(grey, spacing, notes + grey_notes)
    grey, notes = decode_image(path.read_bytes(), "image")
    return LoadedImage(grey, None, notes)


def load_mask(path: Path, label: int | None) -> LoadedImage:
    """A boolean lesion mask from a mask file."""
    if is_medical_format(path):
        array, spacing, notes = _read_medical(path, "mask")
        mask, mask_notes = binarize_mask(array, label, "mask")
        return LoadedImage(mask, spacing, notes + mask_notes)
    mask, notes = decode_mask(path.read_bytes(), label, "mask")
    return LoadedImage(mask, None, notes)


def union_of_masks(paths: list[Path], label: int | None) -> LoadedImage:
    """Several outlines of one image merged into one mask (their union), recorded."""
    loaded = [load_mask(p, label) for p in paths]
    shapes = {m.pixels.shape for m in loaded}
    if len(shapes) > 1:
        raise ImageError("mask_same_size_as_image", f"masks {', '.join(p.name for p in paths)} differ in size")
    merged = np.logical_or.reduce([m.pixels for m in loaded])
    notes = [n for m in loaded for n in m.notes]
    if len(paths) > 1:
        notes.append(f"mask: union of {len(paths)} files ({', '.join(p.name for p in paths)})")
    return LoadedImage(merged, loaded[0].spacing_mm, notes)


def png_bytes(image: LoadedImage, as_mask: bool = False) -> bytes:
    """PNG for the cohort table; masks are stored as 0/255."""
    return encode_png(image.pixels.astype(np.uint8) * 255 if as_mask else image.pixels)
