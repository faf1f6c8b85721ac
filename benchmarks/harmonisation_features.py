"""Why ComBat costs the radiomics XGBoost AUC on another probe: feature by feature.

For each external cohort, the radiomics + clinical XGBoost of a ``combat`` bundle scores the rows
with its features as extracted, all harmonised (the run's batch estimated from its own rows, as
nightly scoring does), and each feature harmonised alone. Beside it, each feature's own AUC
(oriented as on the development rows) on the development rows and on the cohort, and the
cohort's spread as extracted over its spread harmonised. A feature whose own AUC falls on the
other probe has lost information that no shift and scale restores; ComBat gives it back the
spread (the weight) it had on the development probe.

    python benchmarks/harmonisation_features.py --bundle ../combat-study/models/bundle \\
        --cohorts build/estimated-performance --centres B,D

Features are extracted once per cohort into ``--work`` (``sonorisk radiomics``, minutes each).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from sonorisk.contracts.schema import table_keys
from sonorisk.radiomics.models import RadiomicsModels
from sonorisk.risk.fresh_scores import read_fields
from sonorisk.risk.scores import feature_batches, feature_rows
from sonorisk.stats.auc import auc


def _features(cohort: Path, work: Path) -> Path:
    out = work / f"{cohort.stem}.features.parquet"
    if not out.is_file():
        work.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "sonorisk.cli", "radiomics", str(cohort), "--out", str(out), "--quiet"]
        subprocess.run(cmd, check=True)
    return out


def _oriented(y: np.ndarray, values: np.ndarray, sign: float) -> float:
    keep = np.isfinite(values) & np.isfinite(y)
    return auc(y[keep].astype(bool), sign * values[keep])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True, help="a bundle built with harmonisation: combat")
    parser.add_argument("--cohorts", type=Path, required=True, help="folder of <centre>.parquet + .truth.parquet")
    parser.add_argument("--centres", default="B,C,D", help="which cohorts (file stems)")
    parser.add_argument("--development", type=Path, default=Path("data/features/radiomics.parquet"))
    parser.add_argument("--split", type=Path, default=Path("data/splits/split.parquet"))
    parser.add_argument("--work", type=Path, default=Path("build/harmonisation-features"))
    args = parser.parse_args()

    family = RadiomicsModels.load(args.bundle / "radiomics")
    if family.harmoniser is None:
        raise SystemExit(f"{args.bundle} was not built with radiomics_model.harmonisation: combat")
    plain = replace(family, harmoniser=None)
    labelled = pl.read_parquet(args.split).filter(pl.col("split") != "external").select("patient_id", "outcome")
    development = labelled.join(pl.from_arrow(pq.read_table(args.development)), on="patient_id")
    y_dev = development["outcome"].to_numpy().astype(float)
    x_dev = family.feature_matrix(development.to_arrow())
    # Each feature's direction on the development rows (its AUC there >= 0.5 once oriented).
    signs = [1.0 if _oriented(y_dev, x_dev[:, j], 1.0) >= 0.5 else -1.0 for j in range(x_dev.shape[1])]

    for name in args.centres.split(","):
        # Feature rows matched to their cohort rows and outcomes by key, as nightly scoring matches them.
        cohort = pl.from_arrow(read_fields(args.cohorts / f"{name}.parquet"))
        features = pq.read_table(_features(args.cohorts / f"{name}.parquet", args.work))
        truth = pl.read_parquet(args.cohorts / f"{name}.truth.parquet")
        outcome = dict(zip(truth.select("cohort_id", "patient_id").rows(), truth["brain_metastasis"], strict=True))
        y = np.array([outcome.get(key) for key in table_keys(features)], dtype=float)
        x = family.feature_matrix(features)
        rows = feature_rows(features, cohort)
        batches = feature_batches(features, cohort, family.harmoniser.batch_column)
        harmonised = family.for_rows(x, batches, rows).harmoniser
        assert harmonised is not None
        xh = harmonised.apply(x, batches, rows)[0]

        def xgb_auc(values: np.ndarray, rows: list = rows, y: np.ndarray = y) -> float:
            return _oriented(y, plain.predict(values, rows)["radiomics_clinical_xgb"], 1.0)

        means_only = x + (np.nanmean(xh, axis=0) - np.nanmean(x, axis=0))  # ComBat's shift, not its scale
        print(
            f"\ncentre {name} ({len(rows)} rows): XGBoost AUC as extracted {xgb_auc(x):.3f}, "
            f"harmonised {xgb_auc(xh):.3f}, means only {xgb_auc(means_only):.3f}"
        )
        print(f"  {'feature':<60} {'XGB, this alone harmonised':>27} {'own AUC dev':>12} {'here':>6} {'spread':>7}")
        for j, feature in enumerate(family.features):
            alone = x.copy()
            alone[:, j] = xh[:, j]
            spread = float(np.nanstd(x[:, j]) / np.nanstd(xh[:, j]))
            print(
                f"  {feature:<60} {xgb_auc(alone):>27.3f} {_oriented(y_dev, x_dev[:, j], signs[j]):>12.3f} "
                f"{_oriented(y, x[:, j], signs[j]):>6.3f} {spread:>7.2f}"
            )


if __name__ == "__main__":
    main()
