"""Decode and encode the image and mask bytes stored in cohort tables.

Every conversion made on the way to a greyscale image or a binary mask is returned as a note, so
it can be recorded per row. Problems raise ``ImageError`` with a rule name a quarantine row can
carry.

Example:
    >>> import numpy as np
    >>> png = encode_png(np.array([[0, 255], [255, 0]], dtype=np.uint8))
    >>> mask, notes = decode_mask(png)
    >>> mask.tolist(), notes
    ([[False, True], [True, False]], ['mask values {0,255} -> binary (lesion = 255)'])
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
from PIL import Image, UnidentifiedImageError

# A decompression bomb (a tiny PNG declaring a gigapixel canvas) is refused before decoding.
MAX_PIXELS = 25_000_000
MAX_SIDE = 8192


class ImageError(ValueError):
    """An image or mask that cannot be used, with the contract rule it breaks."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def encode_png(array: np.ndarray) -> bytes:
    """Lossless PNG of a 2-D uint8 (or uint16) array, with bytes that depend on the pixels only.

    Pillow deflates with zlib-ng, whose output depends on the CPU's instruction set, so the same
    image gave other bytes (and another cohort hash) on another machine. The zlib stream here holds
    stored (uncompressed) blocks, a format fixed by RFC 1951 with nothing left to the encoder; the
    Parquet files that hold the images compress them with zstd, whose output does not depend on the CPU.
    """
    if array.ndim != 2 or array.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"encode_png takes a 2-D uint8 or uint16 array, got {array.dtype} {array.shape}")
    height, width = array.shape
    samples = np.ascontiguousarray(array, dtype=">u2" if array.dtype == np.uint16 else np.uint8)
    rows = samples.view(np.uint8).reshape(height, -1)
    raw = np.hstack([np.zeros((height, 1), np.uint8), rows]).tobytes()  # filter type 0 on every row
    blocks = []
    for start in range(0, max(len(raw), 1), _STORED_BLOCK):
        chunk = raw[start : start + _STORED_BLOCK]
        final = start + _STORED_BLOCK >= len(raw)
        blocks.append(struct.pack("<BHH", final, len(chunk), len(chunk) ^ 0xFFFF) + chunk)
    stream = b"\x78\x01" + b"".join(blocks) + struct.pack(">I", zlib.adler32(raw))
    depth = 16 if array.dtype == np.uint16 else 8
    header = struct.pack(">IIBBBBB", width, height, depth, 0, 0, 0, 0)  # greyscale, no interlace
    return _PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", stream) + _chunk(b"IEND", b"")


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_STORED_BLOCK = 65535  # the largest stored deflate block


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _open(data: bytes | None, what: str, max_side: int, max_pixels: int) -> Image.Image:
    if data is None or len(data) == 0:
        raise ImageError("present", f"{what} is empty")
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageError("size_limit", f"{what}: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as exc:
        # A header cut short or corrupted fails while Pillow parses it (found by fuzzing).
        raise ImageError("decodes", f"{what} is not a readable image ({exc})") from None
    width, height = image.size
    if width * height > max_pixels or max(width, height) > max_side:
        raise ImageError(
            "size_limit",
            f"{what} declares {width}x{height} pixels; the limit is {max_side} per side and {max_pixels} in all",
        )
    if width == 0 or height == 0:
        raise ImageError("decodes", f"{what} has no pixels")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise ImageError("decodes", f"{what} does not decode ({exc})") from None
    return image


def decode_image(
    data: bytes | None, what: str = "image", max_side: int = MAX_SIDE, max_pixels: int = MAX_PIXELS
) -> tuple[np.ndarray, list[str]]:
    """Decode image bytes to a 2-D greyscale array (uint8, or uint16 for 16-bit sources).

    Raises:
        ImageError: empty, undecodable, too large, or a colour mode with no grey reading.
    """
    image = _open(data, what, max_side, max_pixels)
    notes: list[str] = []
    mode = image.mode
    if mode in ("L", "I;16", "I;16B", "I;16L"):
        pass
    elif mode in ("RGB", "RGBA", "P", "LA", "CMYK", "YCbCr"):
        notes.append(f"{what}: {mode} -> greyscale (ITU-R 601 luma)")
        image = image.convert("RGB").convert("L") if mode != "LA" else image.convert("L")
    elif mode == "1":
        notes.append(f"{what}: 1-bit -> 8-bit greyscale")
        image = image.convert("L")
    elif mode == "I":
        array = np.asarray(image)
        if array.min() < 0 or array.max() > 65535:
            raise ImageError("greyscale", f"{what}: 32-bit values outside 0..65535")
        notes.append(f"{what}: 32-bit integer -> 16-bit greyscale")
        return array.astype(np.uint16), notes
    else:
        raise ImageError("greyscale", f"{what}: colour mode {mode} has no greyscale reading")
    array = np.asarray(image)
    return (array.astype(np.uint16) if array.dtype != np.uint8 else array), notes


def decode_mask(
    data: bytes | None,
    label: int | None = None,
    what: str = "mask",
    max_side: int = MAX_SIDE,
    max_pixels: int = MAX_PIXELS,
) -> tuple[np.ndarray, list[str]]:
    """Decode mask bytes to a boolean lesion mask.

    ``{0, 255}`` and ``{0, 1}`` masks become lesion = nonzero; with ``label``, lesion = that value
    (for label maps with several structures). The values seen are recorded in the notes.
    """
    array, notes = decode_image(data, what, max_side, max_pixels)
    mask, mask_notes = binarize_mask(array, label, what)
    return mask, notes + mask_notes


def binarize_mask(array: np.ndarray, label: int | None = None, what: str = "mask") -> tuple[np.ndarray, list[str]]:
    """Lesion = nonzero (``{0,255}``, ``{0,1}`` masks) or, with ``label``, lesion = that value."""
    # A histogram is O(n) where np.unique sorts; it matters when every scored case decodes a mask.
    values = np.flatnonzero(np.bincount(array.ravel(), minlength=1)) if array.dtype == np.uint8 else np.unique(array)
    shown = ",".join(str(v) for v in values[:6]) + ("..." if values.size > 6 else "")
    if label is not None:
        return array == label, [f"{what} values {{{shown}}} -> binary (lesion = label {label})"]
    nonzero = values[values > 0]
    if nonzero.size <= 1:
        lesion = f"lesion = {int(nonzero[0])}" if nonzero.size else "no lesion pixels"
        return array > 0, [f"{what} values {{{shown}}} -> binary ({lesion})"]
    return array > 0, [f"{what} values {{{shown}}} -> binary (lesion = any nonzero)"]


def storable_grey(array: np.ndarray, what: str = "image") -> tuple[np.ndarray, list[str]]:
    """A 2-D array as uint8 or uint16 for lossless PNG, recording any rescale.

    Example:
        >>> storable_grey(np.array([[0.0, 0.5], [1.0, 0.25]]))[0].dtype.name
        'uint16'
    """
    if array.ndim != 2:
        raise ImageError("greyscale", f"{what}: expected one 2-D frame, got shape {array.shape}")
    if np.issubdtype(array.dtype, np.integer) and array.min() >= 0:
        if array.max() <= 255:
            return array.astype(np.uint8), []
        if array.max() <= 65535:
            return array.astype(np.uint16), [f"{what}: kept as 16-bit greyscale"]
    low, high = float(np.nanmin(array)), float(np.nanmax(array))
    scaled = (array - low) / (high - low) * 65535.0 if high > low else np.zeros_like(array, dtype=np.float64)
    note = f"{what}: {array.dtype} values [{low:.4g}, {high:.4g}] rescaled linearly to 16-bit"
    return np.rint(np.nan_to_num(scaled)).astype(np.uint16), [note]
