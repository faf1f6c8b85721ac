"""``reports/report.html``: one self-contained page (figures embedded as data URIs, no scripts, no
network) with the headline result, the study-style results table, the survival section (when the
study has follow-up), the cohort flow, the baseline characteristics, the figures, the TRIPOD+AI
checklist and the settings and versions behind them."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sonorisk.fusion.score_table import FUSION, MODELS

_COHORT_LABELS = {"training": "Training (out-of-fold)", "internal_validation": "Internal validation"}

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1180px;color:#1d2430}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #e3e7ee;padding-bottom:4px}
.sub{color:#5a6473;margin:0 0 16px}.headline{display:flex;gap:16px;flex-wrap:wrap;margin:12px 0}
.card{border:1px solid #d9dee7;border-radius:8px;padding:10px 14px;min-width:200px;background:#f8fafc}
.card b{display:block;font-size:22px;color:#b4232a}.card span{color:#5a6473;font-size:12px}
table{border-collapse:collapse;font-size:13px;margin:6px 0 12px}
th,td{border:1px solid #d9dee7;padding:4px 8px;text-align:right}
th{background:#eef2f7}td:first-child,th:first-child{text-align:left}tr.fusion td{font-weight:600;background:#fff4f4}
.figs{display:flex;flex-wrap:wrap;gap:10px}.figs figure{margin:0;border:1px solid #e3e7ee;padding:4px}
.figs img{width:370px}figcaption{font-size:12px;color:#5a6473}
pre{background:#f4f6f9;padding:8px;font-size:12px;overflow:auto}
.note{font-size:12px;color:#5a6473}
"""


@dataclass
class ReportContent:
    title: str
    results: Mapping[str, Mapping[str, Mapping[str, Any]]]  # cohort -> model -> metrics
    oracle: Mapping[str, Mapping[str, Any]]  # cohort -> AUC dict (synthetic cohorts only)
    flow: Sequence[Mapping[str, Any]]  # one row per cohort file: stage counts
    baseline: Mapping[str, Mapping[str, str]]  # characteristic -> cohort -> "text"
    figures: Sequence[tuple[str, Path]]  # (caption, PNG path)
    settings: Mapping[str, str]  # name -> text (params, versions, hashes)
    fusion_summary: Mapping[str, Any] = field(default_factory=dict)
    outcome_wording: str = "brain metastasis"
    persons: Mapping[str, int] = field(default_factory=dict)  # cohort -> persons (images may be more)
    notes: Sequence[str] = ()  # sentences on what the study lacks (e.g. no clinical model, and why)
    robustness: Mapping[str, Any] = field(default_factory=dict)  # the radiomics robustness screens
    survival: str = ""  # the survival section's HTML (survival_report.py); empty without follow-up
    tripod: str = ""  # the TRIPOD+AI checklist's HTML (tripod.py)


def _e(value: Any) -> str:
    return html.escape(str(value))


def _ci(m: Mapping[str, Any]) -> str:
    if m.get("auc") is None or m["auc"] != m["auc"]:
        return "-"
    return f"{m['auc']:.3f} [{m['ci_low']:.3f}-{m['ci_high']:.3f}]"


def _pct(x: Any) -> str:
    return "-" if x is None or x != x else f"{100 * x:.1f}"


def cohort_label(name: str) -> str:
    return _COHORT_LABELS.get(name, name.replace("external_", "External centre "))


def html_table(head: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    """A table: a header row, then (css class, cells) per row, every cell escaped."""
    out = ["<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    for css, cells in rows:
        out.append(f"<tr class='{css}'>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    return "".join(out) + "</table>"


def _models(results: Mapping[str, Mapping[str, Any]]) -> list[Any]:
    """The models this study has results for (a study without clinical fields has no clinical model)."""
    return [s for s in MODELS if any(s.column in by_model for by_model in results.values())]


def model_labels(has_clinical: bool) -> dict[str, str]:
    """Score column -> label; without clinical fields the models that would use them are named for
    what they read ("Radiomics XGBoost", "Fusion (radiomics + DL)")."""
    if has_clinical:
        return {spec.column: spec.label for spec in MODELS}
    return {spec.column: spec.label.replace(" + clinical", "").replace("clinical + ", "") for spec in MODELS}


def model_label(spec: Any, results: Mapping[str, Mapping[str, Any]]) -> str:
    """A model's label in tables of ``results`` (the clinical model is there only when the study has
    clinical fields)."""
    return model_labels(any("clinical_only" in by_model for by_model in results.values()))[spec.column]


def _counted(content: ReportContent, cohort: str) -> str:
    m = content.results[cohort][FUSION]
    persons = content.persons.get(cohort)
    who = f"n={m['n']} images" + (f" of {persons} persons" if persons is not None and persons != m["n"] else "")
    return f"{who}, {m['n_positive']} with {content.outcome_wording}"


def _auc_table(content: ReportContent) -> str:
    cohorts = list(content.results)
    rows = []
    for spec in _models(content.results):
        cells = [model_label(spec, content.results)] + [_ci(content.results[c].get(spec.column, {})) for c in cohorts]
        rows.append(("fusion" if spec.column == FUSION else "", cells))
    if content.oracle:
        rows.append(("", ["Oracle (true risk, synthetic)"] + [_ci(content.oracle.get(c, {})) for c in cohorts]))
    return html_table(["Model", *(f"{cohort_label(c)} ({_counted(content, c)})" for c in cohorts)], rows)


def _threshold_table(cohort: str, results: Mapping[str, Mapping[str, Any]]) -> str:
    head = [
        "Model",
        "Threshold",
        "Accuracy %",
        "Sensitivity %",
        "Specificity %",
        "PPV %",
        "NPV %",
        "F1",
        "Brier",
        "Cal. intercept",
        "Cal. slope",
        "DeLong p vs fusion",
    ]
    rows = []
    for spec in _models({cohort: results}):
        m = results[spec.column]
        p = m.get("delong_p_vs_fusion")
        rows.append(
            (
                "fusion" if spec.column == FUSION else "",
                [
                    model_label(spec, {cohort: results}),
                    f"{m['threshold']:.3f}",
                    _pct(m["accuracy"]),
                    _pct(m["sensitivity"]),
                    _pct(m["specificity"]),
                    _pct(m["ppv"]),
                    _pct(m["npv"]),
                    f"{m['f1']:.3f}" if m["f1"] == m["f1"] else "-",
                    f"{m['brier']:.3f}",
                    f"{m.get('calibration_intercept', float('nan')):.2f}",
                    f"{m.get('calibration_slope', float('nan')):.2f}",
                    "-" if p is None else f"{p:.3g}",
                ],
            )
        )
    return f"<h3>{_e(cohort_label(cohort))}</h3>" + html_table(head, rows)


def _robustness_html(robustness: Mapping[str, Any]) -> str:
    """The radiomics robustness screens: method, features passing each, their overlap."""
    if not robustness:
        return ""
    rows = [
        ("", [name, str(s["passed"]), "-" if s["median_icc"] is None else f"{s['median_icc']:.3f}"])
        for name, s in robustness.get("screens", {}).items()
    ]
    overlap = robustness.get("overlap_reader_and_perturbation")
    return (
        "<h2>Radiomics feature robustness</h2>"
        f"<p class='note'>{_e(robustness.get('method', ''))}. {robustness.get('robust')} of "
        f"{robustness.get('features')} features pass every screen and enter the Rad Score's screening"
        + ("" if overlap is None else f"; {overlap} pass both the reader and the perturbation screen")
        + ".</p>"
        + html_table(["Screen", "Features passing", "Median ICC"], rows)
    )


def figure_html(caption: str, path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f"<figure><img alt='{_e(caption)}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def render(content: ReportContent) -> str:
    external = [c for c in content.results if c.startswith("external_")]
    cards = []
    for cohort in external or list(content.results)[-1:]:
        m = content.results[cohort][FUSION]
        cards.append(
            f"<div class='card'><span>Fusion AUC, {_e(cohort_label(cohort))}</span><b>{m['auc']:.3f}</b>"
            f"<span>95 % CI {m['ci_low']:.3f}-{m['ci_high']:.3f}; {_counted(content, cohort)}</span></div>"
        )
        singles = [s for s in _models(content.results) if s.column != FUSION]
        best = max(singles, key=lambda s: content.results[cohort][s.column]["auc"])
        cards.append(
            f"<div class='card'><span>Best single source there: {_e(model_label(best, content.results))}</span>"
            f"<b style='color:#1d2430'>{content.results[cohort][best.column]['auc']:.3f}</b>"
            f"<span>DeLong p vs fusion "
            f"{content.results[cohort][best.column].get('delong_p_vs_fusion', float('nan')):.3g}</span></div>"
        )
        if cohort in content.oracle:
            cards.append(
                f"<div class='card'><span>Oracle AUC (synthetic truth)</span>"
                f"<b style='color:#1d2430'>{content.oracle[cohort]['auc']:.3f}</b>"
                f"<span>fusion reaches {m['auc'] / content.oracle[cohort]['auc']:.0%} of it</span></div>"
            )
    thresholds = content.fusion_summary.get("thresholds", {})
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(content.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(content.title)}</h1>",
        f"<p class='sub'>Risk of {_e(content.outcome_wording)} from the ultrasound image and its lesion outline"
        + ("" if content.notes else " and clinical-pathological fields")
        + ". Every threshold and every fitted object comes from the training split only.</p>",
        *(f"<p class='note'>{_e(note)}</p>" for note in content.notes),
        f"<div class='headline'>{''.join(cards)}</div>",
        "<h2 id='results'>Results: AUC [95 % DeLong CI]</h2>",
        _auc_table(content),
        "<p class='note'>Training rows carry out-of-fold scores only. Fusion: "
        f"{_e(content.fusion_summary.get('kind', ''))}, calibration "
        f"{_e(content.fusion_summary.get('calibration', ''))}; risk groups: high at or above "
        f"{thresholds.get('youden', float('nan')):.3f} (Youden), intermediate at or above "
        f"{thresholds.get('high_sensitivity', float('nan')):.3f} (training sensitivity at least 90 %).</p>",
        "<h2>At the training-fixed thresholds</h2>",
        *(_threshold_table(c, r) for c, r in content.results.items()),
        content.survival,
        "<h2 id='flow'>Cohort flow</h2>",
        html_table(
            list(content.flow[0]) if content.flow else ["-"], [("", [str(v) for v in r.values()]) for r in content.flow]
        ),
        "<h2 id='baseline'>Baseline characteristics</h2>",
        html_table(
            ["Characteristic", *(cohort_label(c) for c in content.results)],
            [("", [k, *(v.get(c, "-") for c in content.results)]) for k, v in content.baseline.items()],
        ),
        _robustness_html(content.robustness),
        "<h2>Figures</h2><div class='figs'>",
        *(figure_html(caption, path) for caption, path in content.figures),
        "</div>",
        content.tripod,
        "<h2 id='settings'>Settings and versions</h2>",
        *(f"<h3>{_e(name)}</h3><pre>{_e(text)}</pre>" for name, text in content.settings.items()),
        "</body></html>",
    ]
    return "\n".join(parts)
