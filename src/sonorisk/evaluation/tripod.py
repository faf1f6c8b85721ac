"""The report's TRIPOD+AI checklist (Collins et al., BMJ 2024;385:e078378): each item the platform can
answer is filled from the run itself, with a link to the report section that shows it; the rest are
listed "for the authors"."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FOR_AUTHORS = "for the authors"


def _e(value: Any) -> str:
    return html.escape(str(value))


@dataclass(frozen=True)
class TripodItem:
    number: str
    topic: str
    filled: str | None  # None: for the authors
    section: str | None = None  # the report section's anchor that shows it


def tripod_html(items: Sequence[TripodItem]) -> str:
    rows = []
    for item in items:
        if item.filled is None:
            rows.append(
                f"<tr><td>{_e(item.number)}</td><td>{_e(item.topic)}</td><td class='note'>{FOR_AUTHORS}</td></tr>"
            )
            continue
        link = f" <a href='#{_e(item.section)}'>(section)</a>" if item.section else ""
        rows.append(f"<tr><td>{_e(item.number)}</td><td>{_e(item.topic)}</td><td>{_e(item.filled)}{link}</td></tr>")
    filled = sum(item.filled is not None for item in items)
    return (
        "<h2 id='tripod'>TRIPOD+AI checklist</h2>"
        f"<p class='note'>{filled} of {len(items)} items filled from this run; the rest are for the authors "
        "(Collins et al., BMJ 2024;385:e078378).</p>"
        "<table><tr><th>Item</th><th>Topic</th><th>Where this run answers it</th></tr>" + "".join(rows) + "</table>"
    )


def tripod_items(run: Mapping[str, Any]) -> list[TripodItem]:
    """The checklist for this run. ``run`` holds what the evaluation knows: study, cohorts, dates,
    counts, predictors, missing-data handling, model selection, validation, calibration, hashes."""
    survival = run.get("survival")
    horizon = (
        f"; time to the outcome, risk reported within {', '.join(str(h) for h in run.get('horizons', []))} months"
        if survival
        else "; no follow-up in the study, so no time-to-event analysis"
    )
    return [
        TripodItem("1", "Title: a prediction model, its target population and outcome", None),
        TripodItem("2", "Abstract", None),
        TripodItem("3", "Background and rationale", None),
        TripodItem("4", "Objectives: development and/or validation", run["objective"]),
        TripodItem("5a", "Data sources", run["sources"], "flow"),
        TripodItem("5b", "Dates of the data", run["dates"], "baseline"),
        TripodItem("6a", "Setting and centres", run["centres"], "flow"),
        TripodItem("6b", "Eligibility criteria", run["eligibility"], "flow"),
        TripodItem("6c", "Treatments received", None),
        TripodItem("7", "Data preparation and pre-processing", run["preparation"], "settings"),
        TripodItem("8a", "Outcome: definition and horizon", run["outcome"] + horizon, "results"),
        TripodItem("8b", "Outcome assessment blinded to predictors", None),
        TripodItem("9", "Predictors: definition and measurement", run["predictors"], "baseline"),
        TripodItem("10", "Sample size and events", run["sample_size"], "flow"),
        TripodItem("11", "Missing data and how it was handled", run["missing"], "flow"),
        TripodItem("12a", "Use of the data: development and evaluation splits", run["splits"], "results"),
        TripodItem("12b", "Predictor handling", run["handling"], "settings"),
        TripodItem("12c", "Model type, building and selection", run["selection"], "results"),
        TripodItem("12d", "Heterogeneity across centres", run["heterogeneity"], "results"),
        TripodItem("12e", "Performance measures", run["measures"], "results"),
        TripodItem("12f", "Model updating or recalibration", run["updating"]),
        TripodItem("13", "Class imbalance", run["imbalance"], "results"),
        TripodItem("14", "Fairness across groups", None),
        TripodItem("15", "Model output and risk groups", run["output"], "results"),
        TripodItem("16", "Differences between development and evaluation data", None),
        TripodItem("17", "Ethical approval", None),
        TripodItem("18", "Funding", None),
        TripodItem("19", "Conflicts of interest", None),
        TripodItem("20", "Protocol", None),
        TripodItem("21", "Registration", None),
        TripodItem("22", "Data sharing", None),
        TripodItem("23", "Code and model sharing; reproducibility", run["reproducibility"], "settings"),
        TripodItem("24", "Patient and public involvement", None),
        TripodItem("25", "Participant flow", run["flow"], "flow"),
        TripodItem("26", "Model performance with confidence intervals", run["performance"], "results"),
        TripodItem(
            "26b",
            "Calibration",
            run["calibration"],
            "survival" if survival else "results",
        ),
        TripodItem("27", "Interpretation, limitations, usability", None),
    ]


def _units(images: int, persons: int | None) -> str:
    """A count labelled by what it counts: rows are images, and persons where the split knows them."""
    return f"{images} images" + (f" of {persons} persons" if persons is not None else "")


def _auc(m: Mapping[str, Any]) -> str:
    return f"{m['auc']:.3f} [{m['ci_low']:.3f}-{m['ci_high']:.3f}]"


def _deep_selection(card: Mapping[str, Any] | None) -> str:
    """TRIPOD+AI 12c for the DL Score: which architecture, chosen how, from what (empty without a card).

    Example:
        >>> cv = {"resnet34": {"oof_training": {"auc": 0.64}}, "resnet34_vit": {"oof_training": {"auc": 0.69}}}
        >>> card = {"architecture": "resnet34_vit", "members": [{}, {}, {}], "zoo_cv": cv}
        >>> _deep_selection(card)[:60]
        'DL Score: resnet34_vit chosen among resnet34 (out-of-fold AU'
    """
    if not card or "zoo_cv" not in card:
        return ""
    zoo = ", ".join(f"{n} (out-of-fold AUC {m['oof_training']['auc']:.3f})" for n, m in card["zoo_cv"].items())
    pretrained = ", ".join(card.get("pretrained") or {})
    return (
        f"DL Score: {card['architecture']} chosen among {zoo} by person-grouped {len(card['members'])}-fold CV "
        "on the training split (each fold model stopped on its own held-out fold; one-standard-error rule), "
        f"its {len(card['members'])} fold models averaged"
        + (f"; {pretrained} encoder pretrained self-supervised (SimCLR) on unlabelled images" if pretrained else "")
        + "; internal and external rows never read by a fit, a stop or the choice. "
    )


def run_facts(
    outcome: str,
    results: Mapping[str, Mapping[str, Mapping[str, Any]]],
    flow: Sequence[Mapping[str, Any]],
    dates: Mapping[str, tuple[str, str]],
    fusion: Mapping[str, Any],
    predictors: Sequence[str],
    survival: Mapping[str, Any] | None,
    code_hash: str,
    deep: Mapping[str, Any] | None = None,
    persons: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """What this run says for each fillable item, in words, from the numbers it computed.

    ``deep`` is the DL model's card (``models/deep/model_card.json``): how its architecture was chosen;
    ``persons`` the number of persons per cohort (rows are images; a person may have several).
    """
    cohorts = list(results)
    external = [c for c in cohorts if c.startswith("external_")]
    clinical = any("clinical_only" in by_model for by_model in results.values())
    counts = "; ".join(
        f"{c.replace('_', ' ')}: {_units(results[c]['fusion_risk']['n'], (persons or {}).get(c))}, "
        f"{results[c]['fusion_risk']['n_positive']} images with {outcome}"
        for c in cohorts
    )
    rows_in = sum(int(r["images in"]) for r in flow)
    held = sum(int(r["quarantined"]) for r in flow)
    imputed = sum(int(r["fused with an imputed score"]) for r in flow)
    centres = sorted({str(r["centre"]) for r in flow})
    fused = [f"{c.replace('_', ' ')} {_auc(results[c]['fusion_risk'])}" for c in cohorts]
    cal = [
        f"{c.replace('_', ' ')} slope {results[c]['fusion_risk'].get('calibration_slope', float('nan')):.2f}"
        for c in cohorts
    ]
    if survival:
        cal += [
            f"survival fusion at 24 months, {c.replace('_', ' ')}: slope {m['calibration']['24']['slope']:.2f}"
            for c, metrics in survival["cohorts"].items()
            if "24" in (m := metrics["models"].get("survival_fusion", {})).get("calibration", {})
        ]
    horizons = survival["cohorts"][next(iter(survival["cohorts"]))]["horizons_months"] if survival else []
    return {
        "survival": survival,
        "horizons": [int(h) for h in horizons],
        "objective": (
            "Development (training split) and internal"
            + (f" and external ({', '.join(e.removeprefix('external_') for e in external)})" if external else "")
            + f" validation of a model for the risk of {outcome}"
        ),
        "sources": f"{len({r['cohort'] for r in flow})} cohort file(s): "
        + ", ".join(sorted({str(r["cohort"]) for r in flow})),
        "dates": "; ".join(f"{c}: surgery {lo} to {hi}" for c, (lo, hi) in dates.items()) or "no dates recorded",
        "centres": f"{len(centres)} centre(s): {', '.join(centres)}",
        "eligibility": f"images that break the cohort data contracts are quarantined with every reason: {held} of "
        f"{rows_in} images",
        "preparation": "images decoded and grey-normalised, lesion ROI from the outline; radiomics with the "
        "pyradiomics settings listed under Settings; CNN-ViT on lesion crops",
        "outcome": f"{outcome}, as recorded in the cohort's label column",
        "predictors": ", ".join(predictors),
        "sample_size": counts,
        "missing": f"{held} images quarantined (contract failures, not imputed); {imputed} images fused with a "
        "missing image score filled by the training median (noted per image)",
        "splits": "development centre split into training and internal validation, persons kept whole, seeded; "
        "every fitted object, threshold and calibrator from the training split only; external centres never seen",
        "handling": ("clinical fields one-hot / standardised with training statistics; " if clinical else "")
        + "image-derived scores standardised with training statistics, probabilities entering the fusion as logits",
        "selection": _deep_selection(deep)
        + f"fusion: {fusion.get('kind', '?')} chosen by cross-validated AUC on the training split, "
        f"calibration {fusion.get('calibration', '?')}"
        + (
            "; survival: "
            + ", ".join(
                f"{f} {s['kind']} (CV partial log-likelihood {s['best_cv_partial_log_likelihood']:.1f}, "
                f"CV Harrell C {s['best_cv_harrell_c']:.3f})"
                for f, s in survival.get("fit", {}).get("families", {}).items()
            )
            if survival
            else ""
        ),
        "heterogeneity": "every metric reported per centre (external centres separately)",
        "measures": "AUC with DeLong 95 % CI, sensitivity, specificity, PPV, NPV at training-fixed thresholds, "
        "Brier score, calibration intercept and slope, decision curves"
        + (
            ", Harrell's and Uno's C, time-dependent AUC, integrated Brier score, calibration at 24/36 months, "
            "Kaplan-Meier by risk group"
            if survival
            else ""
        ),
        "updating": "none: the frozen bundle scores every new cohort; each scoring run records input drift (PSI) "
        "against the development data, the signal that calls for updating",
        "imbalance": "no resampling or reweighting; thresholds fixed on training risks (Youden and >= 90 % "
        "sensitivity)",
        "output": "calibrated probability of the outcome and a risk group"
        + (", and the absolute risk within 24 and 36 months" if survival else ""),
        "reproducibility": f"code SHA-256 {code_hash[:16]}..., model files, settings and package versions under "
        "Settings; `dvc repro` reproduces the run from dvc.lock",
        "flow": f"{rows_in} images in, {held} quarantined, per centre in the flow table",
        "performance": "fusion AUC " + "; ".join(fused),
        "calibration": "; ".join(cal),
    }
