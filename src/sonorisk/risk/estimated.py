"""Estimated performance of a scoring run, before any outcome is known (``stats/cbpe.py``): per
group of rows (all rows, each centre) the expected AUC of the fused risk and of every single-source
score, with an interval, and the expected event rate and Brier score of the calibrated risk. The run
manifest, ``sonorisk runs show`` and the run's HTML page carry it next to the drift; ``sonorisk runs
realise`` puts the realised figures beside it once outcomes arrive.

Example:
    >>> import pyarrow as pa
    >>> rng = np.random.default_rng(5)
    >>> risk = rng.uniform(0.05, 0.8, 400)
    >>> rows = pa.table({"center": ["B"] * 400, "risk": risk, "dl_score": risk + rng.normal(0, 0.2, 400)})
    >>> everyone = estimated_performance(rows)["groups"]["all"]
    >>> everyone["rows"], everyone["auc"]["risk"]["auc"] > everyone["auc"]["dl_score"]["auc"]
    (400, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from sonorisk.stats.cbpe import MIN_EXPECTED_EVENTS, MIN_ROWS, estimate_auc, expected_brier

# Risk-table column -> what it scores; the fused risk is the outcome model for every one of them.
SCORES = ("risk", "clinical_score", "rad_score", "radiomics_xgb_score", "dl_score")
SEED = 20261207  # the outcome draws of the intervals: the same rows give the same interval


def estimated_performance(rows: pa.Table, group_by: tuple[str, ...] = ("center",)) -> dict[str, Any]:
    """Per group (``all`` and each value of each ``group_by`` column), CBPE estimates from ``risk``."""
    groups: dict[str, np.ndarray] = {"all": np.ones(rows.num_rows, dtype=bool)}
    for column in group_by:
        if column in rows.column_names:
            values = np.array(rows.column(column).to_pylist(), dtype=object)
            for value in sorted({v for v in values if v is not None}):
                groups[f"{column}={value}"] = values == value
    risk = np.asarray(rows.column("risk").to_numpy(zero_copy_only=False), dtype=float)
    scores = {c: np.array(rows.column(c).to_pylist(), dtype=float) for c in SCORES if c in rows.column_names}
    estimates = {}
    for name, members in groups.items():
        p = risk[members]
        by_score = {
            column: estimate_auc(p, score[members], np.random.default_rng(SEED)).as_dict()
            for column, score in scores.items()
        }
        estimates[name] = {
            "rows": int(members.sum()),
            "expected_prevalence": round(float(p.mean()), 4) if len(p) else None,
            "expected_brier": round(expected_brier(p), 4) if len(p) else None,
            "auc": by_score,
        }
    return {
        "method": "CBPE: outcomes taken as Bernoulli(risk); expected AUC and a 95 % interval over 1,000 draws",
        "min_rows": MIN_ROWS,
        "min_expected_events": MIN_EXPECTED_EVENTS,
        "groups": estimates,
    }


def render_lines(estimated: dict[str, Any] | None) -> list[str]:
    """The estimates for a terminal: one line per group, the fused risk first."""
    if not estimated:
        return ["estimated performance: not recorded (a run from before it was)"]
    lines = ["estimated performance (before outcomes; CBPE from the calibrated risk):"]
    for name, group in estimated["groups"].items():
        fused = group["auc"].get("risk", {})
        if fused.get("auc") is None:
            lines.append(f"  {name:<14} {group['rows']} rows: {fused.get('reason', 'no risk')}")
            continue
        others = ", ".join(
            f"{score} {e['auc']:.3f}" for score, e in group["auc"].items() if score != "risk" and e["auc"] is not None
        )
        interval = f"[{fused['ci_low']:.3f}, {fused['ci_high']:.3f}]"
        lines.append(
            f"  {name:<14} {group['rows']} rows: AUC {fused['auc']:.3f} {interval}, "
            f"event rate {group['expected_prevalence']:.3f}, Brier {group['expected_brier']:.3f}"
            + (f"; {others}" if others else "")
        )
    return lines
