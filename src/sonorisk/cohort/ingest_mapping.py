"""How one delivery maps onto the cohort table: the YAML mapping file of ``sonorisk ingest`` (see
``docs/ingest.md``) -- which file names carry the join key, which CSV column holds it, which CSV
columns feed which cohort fields, how outcome values read -- and CSV text read as the contract's types.

Example:
    >>> m = Mapping.from_dict({"csv": {"id": "ID"}})
    >>> m.image_key("case7.png"), m.mask_key("case7_mask_1.png")
    ('case7', 'case7')
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_SUFFIX = r"\.(png|jpe?g|bmp|tiff?|nrrd|nhdr|nii|nii\.gz|dcm|mha|mhd)"
DEFAULT_IMAGE_PATTERN = rf"^(?P<key>.+?){_SUFFIX}$"
DEFAULT_MASK_PATTERN = rf"^(?P<key>.+?)_mask(_(?P<part>\d+))?{_SUFFIX}$"
_TRUE = {"1", "true", "yes", "y", "positive", "present"}
_FALSE = {"0", "false", "no", "n", "negative", "absent"}


@dataclass(frozen=True)
class Outcome:
    column: str
    positive: list[str]
    negative: list[str]


@dataclass(frozen=True)
class Mapping:
    """How one data source's files and CSV map onto the cohort table."""

    id_column: str
    cohort_id: str | None = None
    center_value: str | None = None
    center_column: str | None = None
    image_pattern: str = DEFAULT_IMAGE_PATTERN
    mask_pattern: str = DEFAULT_MASK_PATTERN
    csv_key_pattern: str = r"^(?P<key>.+)$"
    mask_label: int | None = None
    patient_id_column: str | None = None
    case_id_column: str | None = None
    spacing_column: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)  # extra text columns: cohort name -> CSV column

    @classmethod
    def from_dict(cls, raw: dict[str, Any], mask_suffix: str | None = None) -> Mapping:
        files, table = raw.get("files") or {}, raw.get("csv") or {}
        centre = raw.get("center") or {}
        if "id" not in table:
            raise ValueError("mapping: csv.id (the CSV column that names each image) is required")
        suffix = mask_suffix or files.get("mask_suffix")
        return cls(
            id_column=table["id"],
            cohort_id=raw.get("cohort_id"),
            center_value=centre.get("value"),
            center_column=centre.get("column"),
            image_pattern=files.get("image", DEFAULT_IMAGE_PATTERN),
            mask_pattern=mask_pattern(suffix) if suffix else files.get("mask", DEFAULT_MASK_PATTERN),
            csv_key_pattern=files.get("csv_key", r"^(?P<key>.+)$"),
            mask_label=raw.get("mask_label"),
            patient_id_column=table.get("patient_id"),
            case_id_column=table.get("case_id"),
            spacing_column=table.get("pixel_spacing_mm"),
            fields=dict(table.get("fields") or {}),
            values={k: {str(a): str(b) for a, b in v.items()} for k, v in (table.get("values") or {}).items()},
            outcomes={name: Outcome(**spec) for name, spec in (raw.get("outcomes") or {}).items()},
            columns={str(k): str(v) for k, v in (table.get("columns") or {}).items()},
        )

    def _key(self, pattern: str, text: str) -> str | None:
        match = re.match(pattern, text, flags=re.IGNORECASE)
        return match.group("key") if match else None

    def image_key(self, name: str) -> str | None:
        return self._key(self.image_pattern, name)

    def mask_key(self, name: str) -> str | None:
        return self._key(self.mask_pattern, name)

    def csv_key(self, value: str) -> str | None:
        return self._key(self.csv_key_pattern, value)


def mask_pattern(suffix: str) -> str:
    """File names of masks: ``NAME<suffix>.png``, ``NAME<suffix>_1.png``, ... (several outlines of
    one image are merged by union); the image is ``NAME.png``, in the same folder or another.

    Example:
        >>> import re
        >>> re.match(mask_pattern("_mask"), "benign (1)_mask_1.png").group("key")
        'benign (1)'
    """
    return rf"^(?P<key>.+?){re.escape(suffix)}(_(?P<part>\d+))?{_SUFFIX}$"


def load_mapping(path: Path, mask_suffix: str | None = None) -> Mapping:
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"mapping file {path} does not exist") from None
    return Mapping.from_dict(raw or {}, mask_suffix)


def typed_value(value: str, kind: str) -> Any:
    """A CSV text value as the contract's type; raises ValueError when it cannot be read."""
    text = value.strip()
    if text == "":
        return None
    if kind == "int":
        number = float(text)
        if not number.is_integer():
            raise ValueError(f"{text!r} is not a whole number")
        return int(number)
    if kind == "float":
        return float(text)
    if kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"{text!r} is not yes/no")
    if kind == "date":
        return dt.date.fromisoformat(text[:10])
    return text
