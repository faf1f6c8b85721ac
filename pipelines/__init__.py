"""The DVC stages. Importing the package applies the reproducibility profile params.yaml names
(``reproducibility.profile``) before any stage imports numpy or torch, so every stage, and the Ray
workers it starts, computes under it (docs/reproducibility.md). Imported into an interpreter that
has loaded them already (a test, a notebook), the interpreter's profile stays, and outputs record
that one."""

from __future__ import annotations

import sys

from sonorisk.params import ParamsError, stage_params
from sonorisk.reproducibility import ProfileError, ReproducibilityParams, apply_profile, libraries_loaded

if not libraries_loaded():
    try:
        apply_profile(stage_params("reproducibility", ReproducibilityParams).profile)
    except (ParamsError, ProfileError, KeyError) as exc:
        print(f"pipelines: error: reproducibility profile: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
