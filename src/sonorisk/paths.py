"""Where things live, in one place: the contracts, the pipeline's data layout and the shared
reference data. No other module names a ``data/``, ``models/`` or ``reports/`` path.

Pipeline paths are relative: DVC runs every stage, and the CLI's defaults resolve, from the project
root (the folder with ``dvc.yaml``).

Example:
    >>> metrics_file("split").as_posix(), truth_file("synthetic-default").as_posix()
    ('reports/metrics/split.json', 'data/cohorts/synthetic-default.truth.parquet')
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = PROJECT_ROOT / "data_contracts"
COHORT_CONTRACT_DIR = CONTRACTS_DIR / "cohort"
RISK_CONTRACT = CONTRACTS_DIR / "risk" / "risk_table.yaml"
PARAMS_FILE = Path("params.yaml")

# DVC outputs (git-ignored, DVC-tracked).
DATA_DIR = Path("data")
COHORTS_DIR = DATA_DIR / "cohorts"
VALIDATED_DIR = DATA_DIR / "validated"
QUARANTINE_DIR = DATA_DIR / "quarantine"
SPLIT_FILE = DATA_DIR / "splits" / "split.parquet"
FEATURES_DIR = DATA_DIR / "features"
RADIOMICS_FEATURES = FEATURES_DIR / "radiomics.parquet"
READER2_FEATURES = FEATURES_DIR / "radiomics_reader2.parquet"
PERTURBED_FEATURES = FEATURES_DIR / "radiomics_perturbed.parquet"
SCORES_DIR = DATA_DIR / "scores"
RADIOMICS_SCORES = SCORES_DIR / "radiomics.parquet"
DL_SCORES = SCORES_DIR / "dl.parquet"
DL_OOF_SCORES = SCORES_DIR / "dl_oof.parquet"
FUSION_SCORES = SCORES_DIR / "fusion.parquet"
SURVIVAL_SCORES = SCORES_DIR / "survival.parquet"

MODELS_DIR = Path("models")
RADIOMICS_MODELS = MODELS_DIR / "radiomics"
DEEP_MODELS = MODELS_DIR / "deep"
FUSION_MODELS = MODELS_DIR / "fusion"
SURVIVAL_MODELS = MODELS_DIR / "survival"
BUNDLE_DIR = MODELS_DIR / "bundle"

REPORTS_DIR = Path("reports")
METRICS_DIR = REPORTS_DIR / "metrics"
PREVIEW_DIR = REPORTS_DIR / "preview"
VALIDATION_REPORTS = REPORTS_DIR / "validation"
SCREENING_REPORT = REPORTS_DIR / "radiomics" / "screening.json"
RADIOMICS_METRICS = METRICS_DIR / "radiomics.json"
DEEP_METRICS = METRICS_DIR / "deep.json"
FUSION_METRICS = METRICS_DIR / "fusion.json"
SURVIVAL_METRICS = METRICS_DIR / "survival.json"  # the headline numbers
SURVIVAL_RESULTS = REPORTS_DIR / "survival" / "results.json"  # every metric and curve
TRAINING_HISTORY = REPORTS_DIR / "deep" / "training_history.json"
FUSION_SELECTION = REPORTS_DIR / "fusion" / "selection.json"
REPORT_HTML = REPORTS_DIR / "report.html"
FIGURES_DIR = REPORTS_DIR / "figures"
PLOTS_DIR = REPORTS_DIR / "plots"
EVALUATION_DIR = REPORTS_DIR / "evaluation"
# Wall-clock seconds per stage: not DVC outputs, so dvc.lock holds only what a rerun reproduces.
TIMINGS_DIR = REPORTS_DIR / "timings"

OUTPUT_ROOTS = (DATA_DIR, MODELS_DIR, REPORTS_DIR)
RISK_ROOT = Path("risk")  # where `sonorisk score` writes risk tables unless told otherwise
EXTERNAL_CHECK_DIR = Path("build") / "external-large"


def metrics_file(stage: str) -> Path:
    """The metrics file of a stage (``dvc metrics show`` reads them)."""
    return METRICS_DIR / f"{stage}.json"


def cohort_file(cohort_id: str) -> Path:
    return COHORTS_DIR / f"{cohort_id}.parquet"


def truth_file(cohort_id: str) -> Path:
    """A synthetic cohort's truth file, beside the cohort (never a model input)."""
    return COHORTS_DIR / f"{cohort_id}.truth.parquet"


def truth_files() -> list[Path]:
    return sorted(COHORTS_DIR.glob("*.truth.parquet"))


def synth_metrics(cohort_id: str) -> Path:
    return METRICS_DIR / "synth" / f"{cohort_id}.json"


def validation_dir(cohort_id: str) -> Path:
    """A cohort's validation summary (``summary.json``) and Great Expectations Data Docs."""
    return VALIDATION_REPORTS / cohort_id


def validation_summaries() -> list[Path]:
    return sorted(VALIDATION_REPORTS.glob("*/summary.json"))


def validation_metrics(cohort_id: str) -> Path:
    return METRICS_DIR / "validation" / f"{cohort_id}.json"


def validated_cohorts() -> list[Path]:
    """Every validated cohort file, in a fixed order."""
    return sorted(VALIDATED_DIR.glob("*.parquet"))


def shared_data_dir() -> Path:
    """The read-only reference data: ``$SONORISK_SHARED_DATA``, else ``../shared/data`` beside the
    checkout (where the workplace and CI lay it)."""
    configured = os.environ.get("SONORISK_SHARED_DATA")
    return Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "data"


SHARED_DATA_DIR = shared_data_dir()
