"""Survival evaluation, shared by the DVC stage and ``sonorisk survival-evaluate``: every survival
family (and, for synthetic cohorts, the generator's true event-time model as the oracle) on every
cohort, and Kaplan-Meier by risk group with groups fixed on training risks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from sonorisk.evaluation.results import cohorts
from sonorisk.evaluation.survival_metrics import ScoredModel, cohort_metrics, km_by_group
from sonorisk.evaluation.survival_report import LABELS
from sonorisk.fusion.score_table import KEY
from sonorisk.fusion.survival import FAMILIES, SurvivalModel, SurvivalParams
from sonorisk.fusion.survival_job import FOLLOWUP, GROUP_HORIZON, load_cutpoints, load_models, risk_column, risk_groups

ORACLE_COLUMNS = ["true_probability", "true_risk_24m", "true_risk_36m"]


def _oracle(truth: pl.DataFrame, event_time: dict[str, Any]) -> ScoredModel:
    """The generator's event-time model (truth-file metadata): P(event) ranks at every horizon, and
    the risk by t is P(event) times the event-time CDF at t."""
    from scipy.stats import gamma

    if event_time.get("distribution") != "gamma":
        raise ValueError(f"unknown event-time model in the truth file: {event_time}")
    p = truth["true_probability"].to_numpy()
    cdf = gamma(a=event_time["shape"], scale=event_time["scale_months"]).cdf
    return ScoredModel(LABELS["oracle"], p, lambda h: p * float(cdf(h)))


def _family(table: pl.DataFrame, family: str, model: SurvivalModel) -> ScoredModel:
    log_hazard = table[f"{family}_log_hazard"].to_numpy()
    return ScoredModel(LABELS.get(family, family), log_hazard, lambda h: model.baseline.risk_at(log_hazard, h))


def evaluate_survival(
    scored: pl.DataFrame,
    models: dict[str, SurvivalModel],
    cutpoints: Sequence[float],
    horizons: Sequence[float],
    tau: float,
    seed: int,
    reps: int,
    truth: tuple[pl.DataFrame, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Metrics per cohort (training out-of-fold, internal validation, each external centre)."""
    usable = scored.filter(pl.col("outcome").is_not_null() & pl.col(FOLLOWUP).is_not_null())
    if truth is not None:
        usable = usable.join(truth[0].select([*KEY, *ORACLE_COLUMNS]), on=KEY, how="left", maintain_order="left")
    out: dict[str, Any] = {"cutpoints_risk_24m": list(cutpoints), "cohorts": {}}
    for i, (name, mask) in enumerate(cohorts(usable)):
        part = usable.filter(pl.Series(mask))
        event, time = part["outcome"].to_numpy().astype(bool), part[FOLLOWUP].to_numpy()
        scored_models = {f: _family(part, f, m) for f, m in models.items() if f in FAMILIES}
        if truth is not None and part["true_probability"].is_not_null().all():
            scored_models["oracle"] = _oracle(part, truth[1])
        metrics = cohort_metrics(event, time, scored_models, horizons, tau, seed + i, reps)
        groups = risk_groups(part[risk_column("survival_fusion", GROUP_HORIZON)].to_numpy(), cutpoints)
        metrics["km_by_risk_group"] = km_by_group(event, time, groups)
        out["cohorts"][name] = metrics
    return out


def evaluate_saved(
    scored: pl.DataFrame,
    model_dir: Path,
    params: SurvivalParams,
    truth: tuple[pl.DataFrame, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``evaluate_survival`` with the families and risk-group cut-points saved in ``model_dir`` and the
    ``survival:`` section's horizons, tau, seed and bootstrap: the one call of the stage and the CLI."""
    return evaluate_survival(
        scored,
        load_models(model_dir),
        load_cutpoints(model_dir),
        params.horizons_months,
        params.uno_tau_months,
        params.seed,
        params.bootstrap_reps,
        truth,
    )


def read_truth(paths: Sequence[Path]) -> tuple[pl.DataFrame, dict[str, Any]] | None:
    """The generator's truth rows and its event-time model (generator v2 and later; else None)."""
    frames, model = [], None
    for path in paths:
        meta = json.loads((pq.read_schema(path).metadata or {}).get(b"sonorisk", b"{}"))
        if "event_time" in meta and set(ORACLE_COLUMNS) <= set(pl.read_parquet_schema(path)):
            frames.append(pl.read_parquet(path, columns=[*KEY, *ORACLE_COLUMNS]))
            model = meta["event_time"]
    return (pl.concat(frames), model) if frames and model else None


def headline(doc: dict[str, Any]) -> dict[str, Any]:
    """What ``dvc metrics show`` lists: per cohort, images, events and each model's Uno C with its CI
    (curves, calibration and the rest stay in the results file and the report)."""
    return {
        cohort: {"images": m["patients"], "events": m["events"]}
        | {name: {"uno_c": model["uno_c"]} for name, model in m["models"].items()}
        for cohort, m in doc["cohorts"].items()
    }


def summary_lines(doc: dict[str, Any]) -> list[str]:
    """A terminal table: Uno's C [CI] per family and cohort."""
    lines = []
    for cohort, metrics in doc["cohorts"].items():
        lines.append(f"{cohort}: {metrics['patients']} images, {metrics['events']} events")
        for name, m in metrics["models"].items():
            uno, auc = m["uno_c"], m["td_auc"]
            aucs = ", ".join(f"{h} m {v:.3f}" for h, v in auc.items())
            lines.append(
                f"  {LABELS.get(name, name):<46} Uno C {uno['value']:.3f} [{uno['low']:.3f}, {uno['high']:.3f}]"
                f"  td-AUC {aucs}  IBS {m.get('integrated_brier', float('nan')):.3f}"
            )
    return lines
