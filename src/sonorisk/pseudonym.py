"""Pseudonyms for analysts: a patient's ID replaced by a keyed hash (HMAC-SHA-256 under a key kept
outside the data), the same for the same patient on every night, so analysts can follow a patient
without knowing who it is; without the key no one can compute the pseudonym of a known ID, and
with another key every pseudonym differs. The mapping back needs the key and the source IDs.

Example (RFC 4231 test case 2: key "Jefe", message "what do ya want for nothing?"):
    >>> Pseudonymiser(b"Jefe").pseudonym("what do ya want for nothing?", length=64)
    '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

PREFIX = "psn-"
LENGTH = 24  # hex digits kept: 96 bits, no collision in any hospital's lifetime of patients
KEY_BYTES = 32


class PseudonymKeyError(ValueError):
    """A pseudonymisation key file that is missing, too short or not hex."""


@dataclass(frozen=True)
class Pseudonymiser:
    key: bytes

    @classmethod
    def from_file(cls, path: Path) -> Pseudonymiser:
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            raise PseudonymKeyError(
                f"pseudonymisation key {path} does not exist (make one with `sonorisk keys new-pseudonym {path}`)"
            ) from None
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise PseudonymKeyError(f"pseudonymisation key {path} is not hex") from None
        if len(key) < 16:
            raise PseudonymKeyError(f"pseudonymisation key {path} has {len(key)} bytes; at least 16 are needed")
        return cls(key)

    def pseudonym(self, value: str, length: int = LENGTH) -> str:
        return hmac.new(self.key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:length]

    def id_of(self, value: str | None) -> str | None:
        """The pseudonym an export shows for an ID (``psn-`` and 24 hex digits); None stays None."""
        return None if value is None else PREFIX + self.pseudonym(value)


def new_pseudonym_key(path: Path) -> Path:
    """32 random bytes as hex in a new owner-only file; refuses to overwrite one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise PseudonymKeyError(f"{path} already exists: a key is never overwritten") from None
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_hex(KEY_BYTES) + "\n")
    return path
