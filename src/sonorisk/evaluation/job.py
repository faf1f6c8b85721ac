"""The evaluation job, shared by the DVC stage ``evaluate`` and ``sonorisk evaluate``.

Reads the fusion stage's score table (every model's score per image), the fusion model, the
validated cohorts (baseline table) and, for synthetic cohorts, the truth files (oracle AUC); writes
the metrics JSON, DVC plot data, PNG figures, SHAP values and the HTML report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sonorisk import paths
from sonorisk.atomic_file import write_json, write_text
from sonorisk.contracts.schema import CLINICAL_COLUMNS
from sonorisk.evaluation.baseline import baseline_table
from sonorisk.evaluation.cohort_figures import cohort_outputs, shap_outputs
from sonorisk.evaluation.report import ReportContent, figure_html, model_label, model_labels, render
from sonorisk.evaluation.results import DECISION_THRESHOLDS, cohorts, oracle
from sonorisk.evaluation.survival_report import survival_figures, survival_html
from sonorisk.evaluation.tripod import run_facts, tripod_html, tripod_items
from sonorisk.fusion.job import THRESHOLDS_FILE
from sonorisk.fusion.model import FusionModel
from sonorisk.fusion.score_table import KEY, MODELS, probabilities, read_clinical
from sonorisk.modelling.clinical_encoding import source_fields
from sonorisk.provenance import PIPELINE_PACKAGES, code_sha256, file_sha256, package_versions
from sonorisk.reproducibility import current_profile

_HEADLINE = ("auc", "ci_low", "ci_high")  # per cohort and model, in reports/metrics/fusion.json


@dataclass
class EvaluationInputs:
    scores: Path
    fusion_model: Path
    validated: Sequence[Path] = ()
    truth: Sequence[Path] = ()
    validation_summaries: Sequence[Path] = ()
    settings_files: Sequence[Path] = ()
    model_files: Sequence[Path] = ()
    title: str = "SonoRisk evaluation report"
    fusion_summary: dict[str, Any] = field(default_factory=dict)
    outcome_wording: str = "the outcome"
    split: Path | None = None  # the split table: who is which person
    screening: Path | None = None  # the radiomics screening report (robustness screens)
    survival: Path | None = None  # the survival stage's results (reports/survival/results.json)
    deep_card: Path | None = None  # the DL model's card: how its architecture was chosen (TRIPOD+AI 12c)


@dataclass
class EvaluationOutputs:
    metrics: Path = paths.FUSION_METRICS
    report: Path = paths.REPORT_HTML
    figures: Path = paths.FIGURES_DIR
    plots: Path = paths.PLOTS_DIR
    details: Path = paths.EVALUATION_DIR


def _versions() -> str:
    lines = [f"{name}=={version}" for name, version in package_versions(PIPELINE_PACKAGES).items()]
    return "\n".join([f"code sha256: {code_sha256()}", *lines])


def _predictors(model: FusionModel, has_clinical: bool, labels: Mapping[str, str]) -> list[str]:
    """What the fusion reads, as a reader names it: the clinical fields (when the study has any), then
    the image-derived scores."""
    fields = source_fields(model.encoder.columns) if has_clinical else []
    return [*(f.replace("_", " ") for f in fields), *(labels[s] for s in model.score_inputs)]


def has_clinical_fields(clinical: pl.DataFrame) -> bool:
    """Whether any clinical field is recorded at all (an image-only study has none)."""
    return any(c in clinical.columns and clinical[c].null_count() < clinical.height for c in CLINICAL_COLUMNS)


def _surgery_dates(everyone: pl.DataFrame) -> dict[str, tuple[str, str]]:
    """First and last surgery date per centre (the data's dates, TRIPOD+AI 5b)."""
    if "surgery_date" not in everyone.columns:
        return {}
    spans = everyone.group_by("center").agg(pl.col("surgery_date").min().alias("lo"), pl.col("surgery_date").max())
    return {
        f"centre {r['center']}": (str(r["lo"]), str(r["surgery_date"]))
        for r in spans.sort("center").to_dicts()
        if r["lo"] is not None
    }


def _flow(table: pl.DataFrame, summaries: Sequence[Path]) -> list[dict[str, Any]]:
    rows = []
    for path in summaries:
        s = json.loads(path.read_text())
        name = Path(s.get("cohort", path.stem)).stem
        for centre, counts in sorted(s.get("by_centre", {}).items()):
            scored = table.filter(pl.col("center") == centre)
            rows.append(
                {
                    "cohort": name,
                    "centre": centre,
                    "images in": counts.get("valid", 0) + counts.get("quarantined", 0),
                    "quarantined": counts.get("quarantined", 0),
                    "valid": counts.get("valid", 0),
                    "Rad Score": int(scored["rad_score"].is_not_null().sum()),
                    "DL Score": int(scored["dl_score"].is_not_null().sum()),
                    "fused": int(scored["fusion_risk"].is_not_null().sum()),
                    "fused with an imputed score": int(scored["fusion_note"].is_not_null().sum()),
                }
            )
    return rows


def run_evaluation(inputs: EvaluationInputs, out: EvaluationOutputs) -> dict[str, Any]:
    """Compute every table and figure; returns {cohort: {model: metrics}} (also in ``out.metrics``)."""
    table = pl.read_parquet(inputs.scores).sort(KEY)
    labelled = table.filter(pl.col("outcome").is_not_null())
    if labelled.height == 0:
        raise ValueError(f"{inputs.scores} has no labelled images: nothing to evaluate")
    model = FusionModel.load(inputs.fusion_model)
    y = labelled["outcome"].to_numpy().astype(bool)
    probs = probabilities(labelled)
    clinical = read_clinical(inputs.validated) if inputs.validated else pl.DataFrame({k: [] for k in KEY})
    has_clinical = has_clinical_fields(clinical)
    labels = model_labels(has_clinical)
    notes = []
    if not has_clinical:
        del probs["clinical_only"]
        notes.append(
            "No clinical model: the study's cohorts record no clinical field, so a clinical model would be a "
            "constant; the radiomics XGBoost and fusion use the image-derived inputs alone."
        )
    groups = cohorts(labelled)
    # Fixed on training data by the fusion stage, stored with the model: the same for every cohort.
    thresholds = json.loads((inputs.fusion_model / THRESHOLDS_FILE).read_text())
    persons = pl.read_parquet(inputs.split, columns=[*KEY, "person"]) if inputs.split else None
    truth = (
        pl.concat([pl.read_parquet(p, columns=[*KEY, "true_probability"]) for p in inputs.truth])
        if inputs.truth
        else None
    )
    true_p = (
        labelled.select(KEY).join(truth, on=KEY, how="left", maintain_order="left")["true_probability"].to_numpy()
        if truth is not None
        else None
    )

    results, oracles, curves = {}, {}, {}
    person_counts: dict[str, int] = {}
    figures: list[tuple[str, Path]] = []
    for name, mask in groups:
        if persons is not None:
            members = labelled.filter(pl.Series(mask)).select(KEY).join(persons, on=KEY, how="left")
            person_counts[name] = int(members["person"].n_unique())
        sub = {k: v[mask] for k, v in probs.items()}
        results[name], curves[name], drawn = cohort_outputs(
            name, y[mask], sub, thresholds, labels, out.figures, out.plots
        )
        figures.extend(drawn)
        if true_p is not None and np.isfinite(true_p[mask]).all():
            oracles[name] = oracle(y[mask], true_p[mask])

    everyone = table.join(clinical, on=KEY, how="left")
    if persons is not None:
        everyone = everyone.join(persons, on=KEY, how="left")
    figures.append(shap_outputs(model, everyone, has_clinical, out.details, out.figures))

    cohort_of = np.full(everyone.height, "", dtype=object)
    labelled_everyone = everyone.filter(pl.col("outcome").is_not_null())
    for name, mask in cohorts(labelled_everyone):
        cohort_of[np.flatnonzero(everyone["outcome"].is_not_null().to_numpy())[mask]] = name
    baseline = baseline_table(
        everyone.with_columns(pl.Series("_cohort", cohort_of.tolist())),
        "_cohort",
        [name for name, _ in groups],
        inputs.outcome_wording,
    )

    # The metrics file holds the headline numbers (`dvc metrics show` stays narrow); the rest is in details.
    metrics = {c: {m: {k: r[k] for k in _HEADLINE} for m, r in res.items()} for c, res in results.items()}
    metrics_doc = {"results": metrics, "oracle": {c: {"auc": o["auc"]} for c, o in oracles.items()}}
    write_json(out.metrics, metrics_doc, default=_json_default)
    details = {
        "results": results,
        "oracle": oracles,
        "thresholds": thresholds,
        "decision_curves": curves,
        "decision_thresholds": DECISION_THRESHOLDS.tolist(),
    }
    write_json(out.details / "results.json", details, default=_json_default)

    settings = {p.name: p.read_text() for p in inputs.settings_files if p.exists()}
    settings["Package versions"] = _versions()
    settings["Reproducibility profile"] = json.dumps(current_profile(), indent=2)
    if inputs.model_files:
        settings["Model files (SHA-256)"] = "\n".join(
            f"{file_sha256(p)}  {p}" for p in inputs.model_files if p.exists()
        )
    survival = json.loads(inputs.survival.read_text()) if inputs.survival and inputs.survival.exists() else None
    survival = survival if survival and survival.get("cohorts") else None
    survival_section = ""
    if survival:
        shown = survival_figures(survival, out.figures / "survival", inputs.outcome_wording)
        survival_section = survival_html(survival, [figure_html(c, p) for c, p in shown], inputs.outcome_wording)
    flow = _flow(table, inputs.validation_summaries)
    facts = run_facts(
        inputs.outcome_wording,
        results,
        flow,
        _surgery_dates(everyone),
        {"kind": model.kind, "calibration": model.calibrator.method},
        _predictors(model, has_clinical, labels),
        survival,
        code_sha256(),
        json.loads(inputs.deep_card.read_text()) if inputs.deep_card and inputs.deep_card.exists() else None,
        person_counts,
    )
    content = ReportContent(
        title=inputs.title,
        results=results,
        oracle=oracles,
        flow=flow,
        baseline=baseline,
        figures=figures,
        settings=settings,
        fusion_summary={"kind": model.kind, "calibration": model.calibrator.method, "thresholds": model.thresholds}
        | inputs.fusion_summary,
        outcome_wording=inputs.outcome_wording,
        persons=person_counts,
        notes=notes,
        robustness=json.loads(inputs.screening.read_text()).get("robustness", {}) if inputs.screening else {},
        survival=survival_section,
        tripod=tripod_html(tripod_items(facts)),
    )
    write_text(out.report, render(content))
    return metrics_doc


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def results_lines(metrics_doc: dict[str, Any]) -> list[str]:
    """The results table (models x cohorts, AUC [95 % CI]) as terminal lines."""
    results, oracles = metrics_doc["results"], metrics_doc["oracle"]
    rank = {"training": 0, "internal_validation": 1}
    names = sorted(results, key=lambda n: (rank.get(n, 2), n))  # the JSON is key-sorted
    width = 36
    lines = ["AUC [95 % DeLong CI]".ljust(width) + "".join(n.replace("_", " ")[:24].ljust(26) for n in names)]
    for spec in MODELS:
        if not all(spec.column in results[n] for n in names):
            continue  # a model the study has no inputs for (no clinical fields: no clinical model)
        cells = []
        for n in names:
            m = results[n][spec.column]
            cells.append(f"{m['auc']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]".ljust(26))
        lines.append(model_label(spec, results)[: width - 2].ljust(width) + "".join(cells))
    if oracles:
        lines.append(
            "Oracle (synthetic truth)".ljust(width)
            + "".join((f"{oracles[n]['auc']:.3f}" if n in oracles else "-").ljust(26) for n in names)
        )
    return lines
