"""Where things live, in one place: the contracts folder and the default data layout."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = PROJECT_ROOT / "data_contracts"
COHORT_CONTRACT_DIR = CONTRACTS_DIR / "cohort"
SHARED_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data"
