"""The form every contract finding takes: (column, rule, value), and the errors that stop a cohort.

Example:
    >>> Reason("age", "age_range", "250", "clinical").as_dict()["rule"]
    'age_range'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa

REASON_TYPE = pa.struct(
    [
        pa.field("column", pa.string()),
        pa.field("rule", pa.string()),
        pa.field("value", pa.string()),
        pa.field("contract", pa.string()),
    ]
)
_MAX_VALUE_CHARS = 80


@dataclass(frozen=True)
class Reason:
    """Why a row failed: which column, which rule of which contract, the offending value."""

    column: str
    rule: str
    value: str
    contract: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def shown_value(value: Any) -> str:
    """A short printable form of an offending value (binary data shown by size only)."""
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    text = "null" if value is None else str(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


class CohortError(ValueError):
    """A problem with the cohort as a whole (unreadable file, missing column, wrong type, no rows).

    The message is one line that names the file, the column and the rule where there is one.
    """

    def __init__(self, message: str, column: str | None = None, rule: str | None = None) -> None:
        super().__init__(message)
        self.column = column
        self.rule = rule
