"""Figures of the evaluation report (PNG, matplotlib without a display); the curve points come from
``stats/curves.py``, which the DVC plot data (``dvc plots show``) also use."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from sonorisk.atomic_file import atomic_path
from sonorisk.evaluation.results import DECISION_THRESHOLDS
from sonorisk.fusion.score_table import FUSION
from sonorisk.stats.curves import calibration_points, roc_points

_COLOURS = {
    "clinical_only": "#7f7f7f",
    "rad_score": "#1f77b4",
    "radiomics_clinical_xgb": "#2ca02c",
    "dl_score": "#9467bd",
    FUSION: "#d62728",
}


def new_figure(width: float = 5.0, height: float = 4.6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    return plt, fig, ax


def save_figure(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    with atomic_path(path, keep_suffix=True) as partial:
        fig.savefig(partial, metadata={"Software": None})
    plt.close(fig)
    return path


def roc_png(
    path: Path,
    title: str,
    y: np.ndarray,
    probs: Mapping[str, np.ndarray],
    aucs: Mapping[str, float],
    labels: Mapping[str, str],
) -> Path:
    plt, fig, ax = new_figure()
    for name, p in probs.items():
        ok = np.isfinite(p)
        fpr, tpr = roc_points(y[ok], p[ok])
        ax.step(
            fpr,
            tpr,
            where="post",
            color=_COLOURS.get(name),
            lw=2.4 if name == FUSION else 1.3,
            label=f"{labels.get(name, name)} ({aucs[name]:.3f})",
        )
    ax.plot([0, 1], [0, 1], ls=":", color="#bbbbbb")
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title=f"ROC - {title}", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=7.5, title="AUC", title_fontsize=8)
    return save_figure(plt, fig, path)


def calibration_png(
    path: Path, title: str, y: np.ndarray, probs: Mapping[str, np.ndarray], labels: Mapping[str, str]
) -> Path:
    plt, fig, ax = new_figure()
    top = 0.0
    for name, p in probs.items():
        ok = np.isfinite(p)
        mean_p, observed, _ = calibration_points(y[ok], p[ok])
        top = max(top, float(mean_p.max()), float(observed.max()))
        ax.plot(
            mean_p,
            observed,
            marker="o",
            ms=3.5,
            color=_COLOURS.get(name),
            lw=2.2 if name == FUSION else 1.0,
            label=labels.get(name, name),
        )
    top = min(1.0, top * 1.1 + 0.02)
    ax.plot([0, top], [0, top], ls=":", color="#888888", label="perfect calibration")
    ax.set(
        xlabel="predicted risk (bin mean)",
        ylabel="observed rate",
        title=f"Calibration - {title}",
        xlim=(0, top),
        ylim=(0, top),
    )
    ax.legend(loc="upper left", fontsize=7.5)
    return save_figure(plt, fig, path)


def decision_curve_png(
    path: Path, title: str, curves: Mapping[str, Sequence[float]], labels: Mapping[str, str]
) -> Path:
    plt, fig, ax = new_figure()
    t = DECISION_THRESHOLDS
    for name, values in curves.items():
        if name == "treat_all":
            ax.plot(t, values, color="#444444", ls="--", lw=1, label="treat all")
        elif name == "treat_none":
            ax.plot(t, values, color="#000000", lw=1, label="treat none")
        else:
            ax.plot(
                t, values, color=_COLOURS.get(name), lw=2.4 if name == FUSION else 1.2, label=labels.get(name, name)
            )
    finite = [v for name, vals in curves.items() if name != "treat_all" for v in vals]
    ax.set(
        xlabel="threshold probability",
        ylabel="net benefit",
        title=f"Decision curve - {title}",
        ylim=(-0.05, max([*finite, 0.05]) * 1.15),
        xlim=(0, float(t[-1])),
    )
    ax.legend(loc="upper right", fontsize=7.5)
    return save_figure(plt, fig, path)


def shap_summary_png(
    path: Path, contributions: np.ndarray, values: np.ndarray, columns: Sequence[str], max_features: int = 12
) -> Path:
    """Beeswarm-style summary: one row per feature (most important first), one dot per image at
    its contribution, coloured by the feature's standardised value."""
    order = np.argsort(-np.abs(contributions).mean(axis=0))[:max_features]
    plt, fig, ax = new_figure(6.2, 0.42 * len(order) + 1.4)
    rng = np.random.default_rng(0)  # vertical jitter only: a drawing choice, not a result
    for row, j in enumerate(order[::-1]):
        jitter = rng.uniform(-0.28, 0.28, contributions.shape[0])
        colour = np.clip(values[:, j], -2, 2)
        points = ax.scatter(contributions[:, j], row + jitter, c=colour, cmap="coolwarm", s=9, vmin=-2, vmax=2)
    ax.axvline(0, color="#999999", lw=0.8)
    ax.set_yticks(range(len(order)), [columns[j] for j in order[::-1]], fontsize=8)
    ax.set(xlabel="contribution to the fused log-odds (SHAP value)", title="What drives the fused risk")
    fig.colorbar(points, ax=ax, label="feature value (standardised)", shrink=0.8)
    return save_figure(plt, fig, path)
