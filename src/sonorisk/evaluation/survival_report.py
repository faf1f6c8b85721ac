"""The report's survival section: C-index tables (Uno, Harrell), td-AUC, integrated Brier score,
calibration slope at 24 months, log-rank, and the figures (Kaplan-Meier by risk group, td-AUC over
time, calibration at 24 months)."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sonorisk.evaluation import survival_plots
from sonorisk.evaluation.report import cohort_label, html_table

LABELS = {
    "survival_fusion": "Survival fusion (clinical + radiomics + DL)",
    "survival_clinical": "Clinical Cox",
    "survival_rad": "Cox Rad Score",
    "survival_dl": "Cox DL Score",
    "oracle": "Oracle (true event-time model, synthetic)",
}


def _e(value: Any) -> str:
    return html.escape(str(value))


def _estimate(m: Mapping[str, Any]) -> str:
    value = m.get("value")
    if value is None or value != value:
        return "-"
    return f"{value:.3f} [{m['low']:.3f}-{m['high']:.3f}]"


def _num(x: Any, digits: int = 3) -> str:
    return "-" if x is None or x != x else f"{x:.{digits}f}"


def ordered_cohorts(doc: Mapping[str, Any]) -> list[str]:
    """Training, internal validation, then the external centres (the JSON stores them sorted)."""
    first = [c for c in ("training", "internal_validation") if c in doc["cohorts"]]
    return first + sorted(c for c in doc["cohorts"] if c not in first)


def survival_figures(doc: Mapping[str, Any], folder: Path, outcome: str) -> list[tuple[str, Path]]:
    """KM by risk group, td-AUC over time and calibration at 24 months, per cohort."""
    figures = []
    for cohort in ordered_cohorts(doc):
        metrics = doc["cohorts"][cohort]
        title = cohort_label(cohort)
        figures.append(
            (
                f"Kaplan-Meier by risk group, {title}",
                survival_plots.km_png(folder / f"km_{cohort}.png", title, metrics["km_by_risk_group"], outcome),
            )
        )
        figures.append(
            (
                f"Time-dependent AUC, {title}",
                survival_plots.td_auc_png(folder / f"td_auc_{cohort}.png", title, metrics["models"], LABELS),
            )
        )
        calibration = metrics["models"].get("survival_fusion", {}).get("calibration", {}).get("24")
        if calibration:
            figures.append(
                (
                    f"Calibration at 24 months, survival fusion, {title}",
                    survival_plots.calibration_png(folder / f"calibration_24m_{cohort}.png", title, calibration, "24"),
                )
            )
    return figures


def survival_html(doc: Mapping[str, Any], figures: Sequence[str], outcome: str) -> str:
    """The survival section: one table per metric (models x cohorts), then the figures."""
    cohorts = ordered_cohorts(doc)
    present = {m for c in cohorts for m in doc["cohorts"][c]["models"]}
    models = [m for m in LABELS if m in present] + sorted(present - set(LABELS))
    head = [
        "Model",
        *(
            f"{cohort_label(c)} (n={doc['cohorts'][c]['patients']} images, {doc['cohorts'][c]['events']} events)"
            for c in cohorts
        ),
    ]

    def rows(cell: Callable[[Mapping[str, Any]], str]) -> list[tuple[str, list[str]]]:
        return [
            (
                "fusion" if m == "survival_fusion" else "",
                [str(LABELS.get(m, m)), *(cell(doc["cohorts"][c]["models"].get(m, {})) for c in cohorts)],
            )
            for m in models
        ]

    def td(m: Mapping[str, Any]) -> str:
        return ", ".join(f"{h} m {v:.3f}" for h, v in m.get("td_auc", {}).items()) or "-"

    def slope(m: Mapping[str, Any]) -> str:
        return _num(m.get("calibration", {}).get("24", {}).get("slope"), 2)

    sections = [
        "<h2 id='survival'>Time to " + _e(outcome) + "</h2>",
        "<p class='note'>Survival models on the same inputs and folds as the binary ones, fitted on training "
        "rows only (training rows carry out-of-fold scores). Uno's C counts pairs whose earlier time is before "
        f"{_num(_first(doc, 'uno_tau_months'), 0)} months (or the cohort's last event) and weights them by the "
        "cohort's own censoring distribution; 95 % CIs from the bootstrap. Risk groups are tertiles of the "
        "survival fusion's training risk by 24 months (cutpoints "
        + ", ".join(f"{c:.3f}" for c in doc.get("cutpoints_risk_24m", []))
        + ").</p>",
        "<h3>Uno's C-index [95 % CI]</h3>",
        html_table(head, rows(lambda m: _estimate(m.get("uno_c", {})))),
        "<h3>Harrell's C-index [95 % CI]</h3>",
        html_table(head, rows(lambda m: _estimate(m.get("harrell_c", {})))),
        "<h3>Time-dependent AUC (cumulative/dynamic, IPCW)</h3>",
        html_table(head, rows(td)),
        "<h3>Integrated Brier score</h3>",
        html_table(head, rows(lambda m: _num(m.get("integrated_brier")))),
        "<h3>Calibration slope at 24 months</h3>",
        html_table(head, rows(slope)),
        "<h3>Log-rank test across risk groups</h3>",
        html_table(
            ["Cohort", "chi-square", "p"],
            [
                (
                    "",
                    [
                        cohort_label(c),
                        _num(doc["cohorts"][c]["km_by_risk_group"]["logrank_chisq"], 2),
                        _num(doc["cohorts"][c]["km_by_risk_group"]["logrank_p"], 4),
                    ],
                )
                for c in cohorts
            ],
        ),
        "<div class='figs'>",
        *figures,
        "</div>",
    ]
    return "\n".join(sections)


def _first(doc: Mapping[str, Any], key: str) -> Any:
    for metrics in doc["cohorts"].values():
        for m in metrics["models"].values():
            if key in m:
                return m[key]
    return None
