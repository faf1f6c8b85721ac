"""The frozen bundle as one object: opened once, every hash verified once, every piece loaded once.

``FrozenBundle.open`` checks the signature against the keys a run trusts (``signing.py``) before it
reads anything else, verifies the manifest (``bundle.py``) and loads the radiomics-stage models, the
fusion model, the survival fusion (when the study had follow-up), the radiomics settings, the
risk-table contract and the drift reference. A cohort is validated under the contracts the bundle
carries (``contracts_dir``), so a bundle copied alone to another machine scores without the source
checkout. ``score`` turns a validated table, its radiomics features and DL Scores into every
model's score, the fused risk and group, and the absolute risks by 24 and 36 months. Nothing here
imports a training job: nightly scoring reads models, it never fits one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from sonorisk.bundle import Bundle, BundleError, load_bundle, read_features
from sonorisk.fusion.model import FusionModel
from sonorisk.fusion.survival import SurvivalModel
from sonorisk.radiomics.models import RadiomicsModels
from sonorisk.radiomics.plan import plan_settings
from sonorisk.radiomics.settings import RadiomicsSettings, from_params, load_settings
from sonorisk.risk.contract import RiskTableContract
from sonorisk.risk.drift import REFERENCE_FILE
from sonorisk.risk.scores import feature_batches, feature_rows, frozen_scores, survival_risks, with_person_ids
from sonorisk.signing import Trust

EXTRACTION_MODES = ("bundle", "full")
SETTINGS_FILE = "settings/radiomics.yaml"
COHORT_CONTRACTS = "contracts/cohort"


@dataclass(frozen=True)
class FrozenBundle:
    bundle: Bundle
    radiomics: RadiomicsModels
    fusion: FusionModel
    survival: SurvivalModel | None  # None: a study without follow-up, or a bundle from before them
    settings: RadiomicsSettings  # as the bundle holds them (a full extraction)
    risk_contract: RiskTableContract
    drift_reference: dict[str, Any] | None  # None: a bundle from before bundles carried one
    signature: dict[str, Any] | None = None  # what Trust.check found; None: not checked

    @classmethod
    def open(cls, root: Path, trust: Trust | None = None) -> FrozenBundle:
        """Verify and load ``root``; with ``trust``, its signature first.

        Raises:
            BundleError: unsigned or wrongly signed (SignatureError), missing, changed or foreign files.
        """
        signature = trust.check(root) if trust is not None else None
        bundle = load_bundle(root)
        survival = bundle.path("survival") / "survival_fusion.json"
        reference = bundle.path(REFERENCE_FILE) if REFERENCE_FILE in bundle.manifest["files"] else None
        return cls(
            bundle=bundle,
            radiomics=RadiomicsModels.load(bundle.path("radiomics")),
            fusion=FusionModel.load(bundle.path("fusion")),
            survival=SurvivalModel.load(survival.parent, "survival_fusion") if survival.is_file() else None,
            settings=load_settings(bundle.path(SETTINGS_FILE)),
            risk_contract=RiskTableContract.load(bundle.path("contracts/risk/risk_table.yaml")),
            drift_reference=json.loads(reference.read_text()) if reference else None,
            signature=signature,
        )

    def check_unchanged(self) -> None:
        """Raise BundleError when the bundle on disk is no longer the one opened (a file or the
        manifest changed since): a run checks this before it writes anything."""
        try:
            now = load_bundle(self.bundle.root)
        except BundleError as problem:
            raise BundleError(
                f"bundle {self.bundle.root} changed during the run ({problem}); nothing written"
            ) from None
        if now.bundle_sha256 != self.sha256:
            raise BundleError(
                f"bundle {self.bundle.root} changed during the run (its manifest now names other files); "
                "nothing written"
            )

    @property
    def sha256(self) -> str:
        return self.bundle.bundle_sha256

    @property
    def version(self) -> str:
        return f"v{self.bundle.manifest['format']}-{self.sha256[:12]}"

    @property
    def contracts_dir(self) -> Path:
        """The cohort contracts the models were trained under (the bundle's copy of data_contracts/cohort)."""
        return self.bundle.path(COHORT_CONTRACTS)

    @property
    def row_salt(self) -> str:
        """What a row hash adds to the row's data: the bundle and its radiomics settings."""
        return self.sha256 + self.bundle.manifest["files"][SETTINGS_FILE]

    @property
    def label_columns(self) -> tuple[str, ...]:
        """The study's outcome and follow-up columns, as the bundle records them (none for a bundle from
        before it did: its rows' hashes then cover every column, and a relabelled row is scored again)."""
        study = self.bundle.manifest.get("study") or {}
        return tuple(c for c in (study.get("outcome"), study.get("followup_column")) if c)

    @property
    def study(self) -> dict[str, Any]:
        """The study as the manifest records it (name, outcome and its wording, follow-up and person columns)."""
        return dict(self.bundle.manifest.get("study") or {})

    @property
    def drift_inputs(self) -> list[str]:
        return list(self.drift_reference["inputs"]) if self.drift_reference else []

    def extraction_settings(self, extraction: str) -> RadiomicsSettings:
        """The radiomics settings, narrowed to the features the models read unless ``full``."""
        if extraction == "full":
            return self.settings
        if extraction != "bundle":
            raise ValueError(f"extraction must be one of {', '.join(EXTRACTION_MODES)}, not {extraction!r}")
        planned = plan_settings(self.settings.params, read_features(self.bundle))
        return from_params(planned, source=f"{SETTINGS_FILE} narrowed to the features the bundle reads")

    def radiomics_for(self, validated: pl.DataFrame, features: pa.Table) -> tuple[RadiomicsModels, list[str | None]]:
        """The radiomics family as it scores these rows (unseen batches with enough rows estimated from
        them), and each feature row's batch (none without harmonisation)."""
        harmoniser = self.radiomics.harmoniser
        if harmoniser is None:
            return self.radiomics, []
        batches = feature_batches(features, validated, harmoniser.batch_column)
        rows = feature_rows(features, validated)
        return self.radiomics.for_rows(self.radiomics.feature_matrix(features), batches, rows), batches

    def score(
        self,
        validated: pl.DataFrame,
        features: pa.Table,
        dl_scores: pl.DataFrame,
        radiomics: RadiomicsModels | None = None,
    ) -> pl.DataFrame:
        """Every model's score, the fused risk and group and the survival risks, one row per validated
        row; ``radiomics`` is ``radiomics_for`` these rows (computed here when not given)."""
        outcome = self.label_columns[0] if self.label_columns else None
        radiomics = radiomics or self.radiomics_for(validated, features)[0]
        scores = frozen_scores(validated, features, dl_scores, radiomics, self.fusion, outcome)
        scores = survival_risks(self.survival, scores, validated)
        return with_person_ids(scores, validated, self.study.get("person_column"))
