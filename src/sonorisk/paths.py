"""Where things live, in one place: the contracts folder and the default data layout."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = PROJECT_ROOT / "data_contracts"
COHORT_CONTRACT_DIR = CONTRACTS_DIR / "cohort"


def _shared_data_dir() -> Path:
    """The read-only reference data: $SONORISK_SHARED_DATA, else ../shared/data beside the checkout
    (the workplace layout), else /work/shared/data (where CI clones elsewhere still find it)."""
    candidates = [os.environ.get("SONORISK_SHARED_DATA"), PROJECT_ROOT.parent / "shared" / "data", "/work/shared/data"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return PROJECT_ROOT.parent / "shared" / "data"


SHARED_DATA_DIR = _shared_data_dir()
