"""Clinical-pathological fields of one synthetic patient, with realistic correlations.

The chain of draws (each step conditions on the previous ones):

subtype (centre mix) -> receptors (consistent with subtype) -> Ki-67 (by subtype) -> grade
(ordinal in Ki-67) -> age (younger for HER2-enriched / triple-negative) -> menopausal status (age)
-> tumour size (log-normal, centre median) -> T stage (size; 3 % T4) -> LVI (grade, size) ->
N stage (size, LVI, grade) -> surgery date (centre accrual window).

Example:
    >>> import numpy as np
    >>> from sonorisk.synthetic.centres import CENTRES
    >>> row = draw_clinical(np.random.default_rng(3), CENTRES["A"])
    >>> row["molecular_subtype"] in SUBTYPES, 18 <= row["age"] <= 100
    (True, True)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from sonorisk.contracts.schema import N_STAGES, SUBTYPES, t_stage_for_size
from sonorisk.synthetic.centres import CentreProfile

# Ki-67 (%) by subtype as Beta(a, b) x 100: means 10, 33, 40, 56 %.
_KI67_BETA = {
    "luminal_a": (2.0, 18.0),
    "luminal_b": (3.0, 6.0),
    "her2_enriched": (4.0, 6.0),
    "triple_negative": (5.0, 4.0),
}
# P(PR positive), P(HER2 positive) for the hormone-receptor-positive subtypes.
_LUMINAL_RECEPTORS = {"luminal_a": (0.92, 0.0), "luminal_b": (0.70, 0.35)}


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def _receptors(subtype: str, rng: np.random.Generator) -> tuple[str, str, str]:
    """(ER, PR, HER2) consistent with the surrogate subtype definitions."""

    def status(positive: bool) -> str:
        return "positive" if positive else "negative"

    if subtype in _LUMINAL_RECEPTORS:
        p_pr, p_her2 = _LUMINAL_RECEPTORS[subtype]
        return "positive", status(rng.random() < p_pr), status(rng.random() < p_her2)
    return "negative", "negative", status(subtype == "her2_enriched")


def draw_clinical(rng: np.random.Generator, centre: CentreProfile) -> dict[str, Any]:
    """Draw one patient's clinical-pathological fields at ``centre``.

    Args:
        rng: the patient's own generator.
        centre: the treating hospital (case mix, accrual window).

    Returns:
        A dict keyed by cohort-table column names.
    """
    subtype = SUBTYPES[int(rng.choice(4, p=np.asarray(centre.subtype_mix)))]
    er, pr, her2 = _receptors(subtype, rng)
    a, b = _KI67_BETA[subtype]
    ki67 = round(float(rng.beta(a, b)) * 100.0, 1)
    if subtype == "luminal_a":
        ki67 = min(ki67, 19.0)  # luminal A is Ki-67 low by definition

    grade_latent = 0.045 * ki67 + rng.normal(0.0, 0.55)
    grade = 1 if grade_latent < 0.6 else (2 if grade_latent < 1.7 else 3)

    aggressive_subtype = subtype in ("her2_enriched", "triple_negative")
    age = int(np.clip(round(rng.normal(centre.age_mean - 5.0 * aggressive_subtype, 11.0)), 24, 90))
    menopausal = "post" if rng.random() < _sigmoid((age - 50.5) / 2.0) else "pre"

    size = float(np.exp(rng.normal(np.log(centre.size_median_mm) + 0.08 * aggressive_subtype, 0.42)))
    size = round(float(np.clip(size, 5.0, 85.0)), 1)
    t_stage = "T4" if rng.random() < 0.03 else t_stage_for_size(size)

    lvi = bool(rng.random() < _sigmoid(-1.5 + 0.55 * (grade - 2) + 0.03 * (size - 20.0)))
    n_latent = 0.035 * (size - 20.0) + 1.4 * lvi + 0.25 * (grade - 2) + rng.logistic(0.0, 0.6)
    n_level = int(np.searchsorted([0.35, 1.7, 2.6], n_latent))

    span = (centre.surgery_to - centre.surgery_from).days
    surgery = centre.surgery_from + dt.timedelta(days=int(rng.integers(0, span + 1)))

    return {
        "surgery_date": surgery,
        "age": age,
        "menopausal_status": menopausal,
        "tumor_size_mm": size,
        "t_stage": t_stage,
        "n_stage": N_STAGES[n_level],
        "histologic_grade": grade,
        "er_status": er,
        "pr_status": pr,
        "her2_status": her2,
        "ki67_pct": ki67,
        "molecular_subtype": subtype,
        "lvi": lvi,
    }
