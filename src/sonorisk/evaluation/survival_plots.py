"""Figures of the report's survival section (PNG, matplotlib without a display): Kaplan-Meier by risk
group, time-dependent AUC over the horizons, calibration of the risk by a horizon."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sonorisk.evaluation.plots import new_figure, save_figure

COLOURS = {
    "survival_fusion": "#d62728",
    "survival_clinical": "#7f7f7f",
    "survival_rad": "#1f77b4",
    "survival_dl": "#9467bd",
    "oracle": "#000000",
    "low": "#2ca02c",
    "intermediate": "#ff7f0e",
    "high": "#d62728",
}


def km_png(path: Path, title: str, km: Mapping[str, Any], outcome: str) -> Path:
    """Kaplan-Meier curves (steps) per risk group, the log-rank p in the title."""
    plt, fig, ax = new_figure()
    for group in ("low", "intermediate", "high"):
        curve = km["curves"].get(group)
        if not curve:
            continue
        times, survival = [0.0, *curve["times"]], [1.0, *curve["survival"]]
        label = f"{group} ({curve['patients']} images, {curve['events']} events)"
        ax.step(times, survival, where="post", color=COLOURS[group], label=label, lw=1.8)
    p = km.get("logrank_p")
    ax.set_title(f"{title}: log-rank p = {p:.2g}" if p == p and p is not None else title, fontsize=10)
    ax.set_xlabel("months after surgery")
    ax.set_ylabel(f"free of {outcome}")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8, loc="lower left")
    return save_figure(plt, fig, path)


def td_auc_png(path: Path, title: str, models: Mapping[str, Any], labels: Mapping[str, str]) -> Path:
    """Cumulative/dynamic AUC at each horizon, one line per model."""
    plt, fig, ax = new_figure()
    for name, metrics in models.items():
        points = sorted((float(h), a) for h, a in metrics["td_auc"].items())
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", color=COLOURS.get(name), label=labels.get(name, name))
    ax.axhline(0.5, color="#bbbbbb", lw=0.8, ls="--")
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("horizon (months)")
    ax.set_ylabel("time-dependent AUC")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    return save_figure(plt, fig, path)


def calibration_png(path: Path, title: str, calibration: Mapping[str, Any], horizon: str) -> Path:
    """Predicted vs Kaplan-Meier observed risk by ``horizon`` months, per risk decile, and the slope."""
    plt, fig, ax = new_figure()
    ax.plot([0, 1], [0, 1], color="#bbbbbb", lw=0.8, ls="--")
    ax.plot(calibration["predicted"], calibration["observed"], marker="o", color=COLOURS["survival_fusion"])
    top = max([*calibration["predicted"], *calibration["observed"], 0.1]) * 1.1
    ax.set_xlim(0, min(1.0, top))
    ax.set_ylim(0, min(1.0, top))
    ax.set_xlabel(f"predicted risk by {horizon} months (decile mean)")
    ax.set_ylabel("observed (1 - Kaplan-Meier)")
    ax.set_title(f"{title}: slope {calibration['slope']:.2f}", fontsize=10)
    return save_figure(plt, fig, path)
