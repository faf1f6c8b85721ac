"""Censoring matters (issue 19, acceptance 3): heavier early censoring biases the binary model's AUC,
because patients censored before their metastasis are counted as negatives, but not the survival
model's Uno C-index, whose censoring weights undo it.

Patients come from the synthetic study's own clinical draw, true risk model and event-time model
(synthetic/clinical.py, outcome.py); no images are needed, so thousands of patients take seconds.
Both models read the same two inputs: the clinical log-odds and a noisy reading of the latent
aggressiveness (what the image scores carry).
"""

from __future__ import annotations

import numpy as np
import pytest

from sonorisk.modelling.cox import fit_cox
from sonorisk.stats.delong import auc_ci
from sonorisk.stats.survival import bootstrap, uno_c
from sonorisk.synthetic.centres import CENTRES
from sonorisk.synthetic.clinical import draw_clinical
from sonorisk.synthetic.outcome import (
    EVENT_TIME_SCALE_MONTHS,
    EVENT_TIME_SHAPE,
    clinical_logit,
    true_probability,
)


def _patients(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (clinical log-odds, noisy latent) and the true event time (inf: never)."""
    x, t_event = np.empty((n, 2)), np.full(n, np.inf)
    for i in range(n):
        fields = draw_clinical(rng, CENTRES["A"])
        latent = float(rng.standard_normal())
        clinical = clinical_logit(fields)
        if rng.random() < true_probability(clinical, latent):
            t_event[i] = rng.gamma(EVENT_TIME_SHAPE, EVENT_TIME_SCALE_MONTHS)
        x[i] = clinical, latent + rng.normal(0.0, 0.7)
    return x, t_event


def _observe(t_event: np.ndarray, censor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return t_event <= censor, np.minimum(t_event, censor)


def test_heavier_early_censoring_biases_the_binary_auc_but_not_unos_c() -> None:
    rng = np.random.default_rng(np.random.SeedSequence(19))
    x_dev, t_dev = _patients(1500, rng)
    x_val, t_val = _patients(3000, rng)
    # Light: administrative censoring 60-120 months after surgery, as in the synthetic study.
    light_dev = rng.uniform(60.0, 120.0, x_dev.shape[0])
    light = rng.uniform(60.0, 120.0, x_val.shape[0])
    # Heavy early: half the patients are also lost to follow-up uniformly within 3 years.
    lost = rng.random(x_val.shape[0]) < 0.5
    heavy = np.where(lost, np.minimum(light, rng.uniform(0.0, 36.0, x_val.shape[0])), light)

    from sklearn.linear_model import LogisticRegression

    event_dev, time_dev = _observe(t_dev, light_dev)
    means, stds = x_dev.mean(axis=0), x_dev.std(axis=0)
    z_dev, z_val = (x_dev - means) / stds, (x_val - means) / stds
    binary = LogisticRegression().fit(z_dev, event_dev).decision_function(z_val)
    log_hazard = z_val @ fit_cox(z_dev, event_dev, time_dev, alpha=1.0)

    event_light, time_light = _observe(t_val, light)
    event_heavy, time_heavy = _observe(t_val, heavy)
    assert event_heavy.sum() < 0.85 * event_light.sum()  # the censoring really hides events

    auc_light = auc_ci(event_light, binary)
    auc_heavy = auc_ci(event_heavy, binary)
    # Binary AUC moves outside its own 95 % CI: censored future cases now sit among the "negatives".
    assert not auc_light.low <= auc_heavy.auc <= auc_light.high
    assert auc_heavy.auc < auc_light.low

    def uno(event: np.ndarray, time: np.ndarray) -> object:
        def metric(rows: np.ndarray) -> float:
            return uno_c((event[rows], time[rows]), event[rows], time[rows], log_hazard[rows], tau=48.0)

        return bootstrap(metric, time.size, np.random.default_rng(3), reps=100)

    uno_light, uno_heavy = uno(event_light, time_light), uno(event_heavy, time_heavy)
    # Uno's C stays within the light-censoring CI.
    assert uno_light.low <= uno_heavy.value <= uno_light.high  # type: ignore[attr-defined]
    assert uno_heavy.value == pytest.approx(uno_light.value, abs=0.02)  # type: ignore[attr-defined]
