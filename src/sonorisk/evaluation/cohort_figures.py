"""Per cohort: every model's results, the ROC, calibration and decision-curve figures, and the DVC
plot data behind them; and the fusion model's SHAP values over the inputs the study has."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sonorisk.atomic_file import atomic_path, write_parquet
from sonorisk.evaluation import plots
from sonorisk.evaluation.results import DECISION_THRESHOLDS, cohort_results, decision_curves
from sonorisk.fusion.model import FusionModel
from sonorisk.fusion.score_table import KEY, score_columns
from sonorisk.stats.curves import calibration_points, roc_points

Figure = tuple[str, Path]


def cohort_outputs(
    name: str,
    y: np.ndarray,
    probs: Mapping[str, np.ndarray],
    thresholds: Mapping[str, float],
    labels: Mapping[str, str],
    figures: Path,
    plot_data: Path,
) -> tuple[dict[str, Any], dict[str, Any], list[Figure]]:
    """(results per model, decision curves, figures) of one cohort; plot data written beside."""
    results = cohort_results(y, probs, thresholds)
    curves = decision_curves(y, probs)
    title = name.replace("_", " ")
    aucs = {k: v["auc"] for k, v in results.items()}
    drawn = [
        (f"ROC, {title}", plots.roc_png(figures / f"roc_{name}.png", title, y, probs, aucs, labels)),
        (f"Calibration, {title}", plots.calibration_png(figures / f"calibration_{name}.png", title, y, probs, labels)),
        (f"Decision curve, {title}", plots.decision_curve_png(figures / f"decision_{name}.png", title, curves, labels)),
    ]
    roc, calibration = {}, {}
    for model_name, p in probs.items():
        ok = np.isfinite(p)
        roc[model_name] = roc_points(y[ok], p[ok])
        calibration[model_name] = calibration_points(y[ok], p[ok])
    _write_curves(plot_data / "roc" / f"{name}.csv", ["fpr", "tpr"], roc)
    _write_curves(plot_data / "calibration" / f"{name}.csv", ["predicted", "observed", "images"], calibration)
    decision = {m: (DECISION_THRESHOLDS, np.asarray(v)) for m, v in curves.items()}
    _write_curves(plot_data / "decision" / f"{name}.csv", ["threshold", "net_benefit"], decision)
    return results, curves, drawn


def shap_outputs(
    model: FusionModel, everyone: pl.DataFrame, has_clinical: bool, details: Path, figures: Path
) -> Figure:
    """SHAP values of the fusion model for every row, over the inputs the study has: an image-only
    study's fusion carries no clinical column worth a row (its encoder saw none)."""
    z = model.matrix(everyone.to_dicts(), score_columns(everyone, model.score_inputs))
    contributions, base = model.contributions(z)
    shown = [j for j in range(len(model.columns)) if has_clinical or j >= model.design.clinical_width]
    columns = [model.columns[j] for j in shown]
    shap = pl.DataFrame(
        {**{k: everyone[k] for k in KEY}, "base_value": np.full(len(z), base)}
        | {f"shap_{c}": contributions[:, j] for j, c in zip(shown, columns, strict=True)}
    )
    write_parquet(shap, details / "shap_values.parquet")
    path = plots.shap_summary_png(figures / "shap_summary.png", contributions[:, shown], z[:, shown], columns)
    return "SHAP summary of the fusion model (every image)", path


def _write_curves(path: Path, header: Sequence[str], curves: Mapping[str, Sequence[Any]]) -> None:
    """One CSV per cohort for ``dvc plots show``: the curve columns, then the model each row draws
    (the project's ``by_model`` template colours by it), whatever models and centres a study has."""
    with atomic_path(path) as partial, partial.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*header, "model"])
        for model_name, columns in curves.items():
            for values in zip(*columns, strict=True):
                writer.writerow([*(f"{v:.6g}" for v in values), model_name])
