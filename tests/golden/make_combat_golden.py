"""Writes tests/golden/combat_neurocombat.json: ComBat as the reference implementation computes it
(neuroCombat 0.2.12, Fortin et al.; it needs numpy < 1.24, so it runs outside the project's environment):

    python3.11 -m venv /tmp/nc && /tmp/nc/bin/pip install "numpy==1.23.5" "pandas<2.1" neuroCombat==0.2.12
    /tmp/nc/bin/python tests/golden/make_combat_golden.py

Three batches of unequal size, location and scale over six features; ComBat without covariates,
parametric empirical Bayes, once over all batches and once with batch "A" as the reference. Then the
same with two continuous covariates (tumour size, age) whose distributions differ between the
batches and which move the features: neuroCombat's `continuous_cols`, their effect kept.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from neuroCombat import neuroCombat

rng = np.random.default_rng(20071)
sizes = {"A": 15, "B": 10, "C": 12}
shift = {"A": 0.0, "B": 1.5, "C": -0.8}
scale = {"A": 1.0, "B": 2.0, "C": 0.6}
batch = [b for b, n in sizes.items() for _ in range(n)]
features = rng.normal(size=(len(batch), 6)) * np.linspace(1, 3, 6) + np.arange(6)
for i, b in enumerate(batch):
    features[i] = features[i] * scale[b] + shift[b] * (1 + rng.uniform(0, 0.3, 6))
covars = pd.DataFrame({"batch": batch})
out = {"x": features.tolist(), "batch": batch}
for name, reference in (("all", None), ("reference_A", "A")):
    result = neuroCombat(dat=features.T, covars=covars, batch_col="batch", ref_batch=reference)
    estimates = result["estimates"]
    out[name] = {
        "data": result["data"].T.tolist(),
        "gamma_star": np.asarray(estimates["gamma.star"]).tolist(),
        "delta_star": np.asarray(estimates["delta.star"]).tolist(),
        "batches": [str(b) for b in estimates["batches"]],
    }
# Drawn after everything above, so the cases without covariates keep their numbers.
size = np.array([{"A": 19.0, "B": 24.0, "C": 16.0}[b] for b in batch]) + rng.normal(0, 4, len(batch))
age = rng.normal(54, 9, len(batch))
# neuroCombat casts continuous covariates to float32: give it values float32 holds exactly.
size, age = size.astype(np.float32).astype(float), age.astype(np.float32).astype(float)
with_covariates = features + np.outer(size - 20, np.linspace(0.2, -0.3, 6)) + np.outer(age - 54, np.full(6, 0.05))
covars = pd.DataFrame({"batch": batch, "size": size, "age": age})
out["covariates"] = {"x": with_covariates.tolist(), "size": size.tolist(), "age": age.tolist()}
for name, reference in (("all", None), ("reference_A", "A")):
    result = neuroCombat(
        dat=with_covariates.T, covars=covars, batch_col="batch", continuous_cols=["size", "age"], ref_batch=reference
    )
    estimates = result["estimates"]
    out["covariates"][name] = {
        "data": result["data"].T.tolist(),
        "gamma_star": np.asarray(estimates["gamma.star"]).tolist(),
        "delta_star": np.asarray(estimates["delta.star"]).tolist(),
        "batches": [str(b) for b in estimates["batches"]],
    }
Path(__file__).with_name("combat_neurocombat.json").write_text(json.dumps(out, indent=1) + "\n")
