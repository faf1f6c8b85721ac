"""Estimated and realised performance on a risk root whose outcomes are drawn from its calibrated
risks: `sonorisk runs realise` gives scikit-learn's AUC on the same rows, puts it beside the run's
CBPE estimate (which the realised AUC falls within), keeps an append-only history that a kill -9
mid-write never corrupts, and an estimate over too few rows says so instead of guessing."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from sonorisk.risk.estimated import estimated_performance
from sonorisk.risk.partition import RUNS_DIR, write_partition
from sonorisk.risk.realised import REALISED_DIR, REALISED_FILE, append_history, read_history
from sonorisk.stats.cbpe import estimate_auc, expected_auc

RUN = "20261207T023000Z-0000abcd"


def _root(tmp: Path, n: int = 800, seed: int = 11) -> tuple[Path, pl.DataFrame]:
    """A risk root of one run over two centres, and labels drawn from the risks (so calibrated)."""
    rng = np.random.default_rng(seed)
    risk = rng.beta(1.2, 3.0, n)
    table = pa.table(
        {
            "patient_id": [f"P-{i:05d}" for i in range(n)],
            "cohort_id": ["2026-12-07"] * n,
            "center": ["B" if i % 2 else "C" for i in range(n)],
            "risk": risk,
            "dl_score": np.log(risk / (1 - risk)) + rng.normal(0, 1.0, n),
            "run_id": [RUN] * n,
        }
    )
    root = tmp / "risk"
    write_partition(table, root, "2026-12-07")
    manifest = {
        "run_id": RUN,
        "scored_at": "2026-12-07T02:30:00+00:00",
        "bundle_sha256": "0" * 64,
        "counts": {"rows_in": n, "scored": n, "quarantined": 0},
        "partitions": {"2026-12-07": str(root / "cohort_id=2026-12-07/risk.parquet")},
        "study": {"outcome": "brain_metastasis", "followup_column": "followup_months"},
        "estimated": estimated_performance(table),
    }
    (root / RUNS_DIR).mkdir()
    (root / RUNS_DIR / f"{RUN}.json").write_text(json.dumps(manifest))
    outcome = rng.random(n) < risk
    labels = pl.DataFrame({"patient_id": table.column("patient_id").to_pylist(), "brain_metastasis": outcome})
    return root, labels


def _sonorisk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sonorisk.cli", *args], capture_output=True, text=True)


def test_realised_auc_is_scikit_learns_beside_the_estimate_and_history_is_appended(tmp_path: Path) -> None:
    root, labels = _root(tmp_path)
    labels.write_csv(tmp_path / "labels.csv")
    done = _sonorisk("runs", "realise", "--labels", str(tmp_path / "labels.csv"), "--risk", str(root))
    assert done.returncode == 0, done.stderr
    history = read_history(root)
    assert history is not None
    risk = pl.read_parquet(root / "cohort_id=2026-12-07" / "risk.parquet").join(labels, on="patient_id")
    y, p = risk["brain_metastasis"].to_numpy(), risk["risk"].to_numpy()
    everyone = history.filter(pl.col("group") == "all").row(0, named=True)
    assert everyone["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert everyone["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    assert everyone["events"] == int(y.sum()) and everyone["prevalence"] == pytest.approx(y.mean())
    centre = history.filter(pl.col("group") == "center=B").row(0, named=True)
    on_b = risk.filter(pl.col("center") == "B")
    assert centre["auc"] == pytest.approx(roc_auc_score(on_b["brain_metastasis"], on_b["risk"]), abs=1e-12)
    # The estimate was made before any outcome: the realised AUC falls in its interval (calibrated risks).
    assert everyone["estimated_auc_low"] <= everyone["auc"] <= everyone["estimated_auc_high"]
    assert abs(everyone["estimated_auc"] - everyone["auc"]) < 0.03

    again = _sonorisk("runs", "realise", "--labels", str(tmp_path / "labels.csv"), "--risk", str(root))
    assert again.returncode == 0, again.stderr
    assert read_history(root).height == 2 * history.height  # appended, never replaced
    listed = _sonorisk("runs", "list", "--risk", str(root))
    assert f"AUC estimated {everyone['estimated_auc']:.3f}  realised {everyone['auc']:.3f}" in listed.stdout
    query = _sonorisk("query", "SELECT COUNT(*) AS n FROM realised WHERE \"group\" = 'all'", "--risk", str(root),
                      "--format", "csv")  # fmt: skip
    assert query.returncode == 0 and query.stdout.split() == ["n", "2"], query.stderr


def test_labels_that_cannot_be_used_end_in_one_line(tmp_path: Path) -> None:
    root, labels = _root(tmp_path, n=60)
    labels.drop("brain_metastasis").write_csv(tmp_path / "no_outcome.csv")
    done = _sonorisk("runs", "realise", "--labels", str(tmp_path / "no_outcome.csv"), "--risk", str(root))
    assert done.returncode == 2 and "lacks column(s) brain_metastasis" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    missing = _sonorisk("runs", "realise", "--labels", str(tmp_path / "nope.csv"), "--risk", str(root))
    assert missing.returncode == 5 and "no such labels file" in missing.stderr


def test_expected_auc_is_the_pairwise_definition_and_too_few_rows_say_so() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.95, 40)
    score = np.round(p + rng.normal(0, 0.2, 40), 1)  # rounded: ties among the scores
    num = den = 0.0
    for i in range(40):
        for j in range(40):
            if i != j:
                weight = p[i] * (1 - p[j])
                den += weight
                num += weight * (1.0 if score[i] > score[j] else 0.5 if score[i] == score[j] else 0.0)
    assert expected_auc(p, score) == pytest.approx(num / den, abs=1e-12)
    few = estimate_auc(p[:20], score[:20], np.random.default_rng(0))
    assert few.auc is None and few.reason is not None and "too few rows" in few.reason


def test_a_kill_mid_append_leaves_the_old_history_or_the_new_one(tmp_path: Path) -> None:
    root = tmp_path / "risk"
    chunk = 20_000
    writer = (
        "import datetime as dt, polars as pl, sys\n"
        "from pathlib import Path\n"
        "from sonorisk.risk.realised import append_history\n"
        f"new = pl.DataFrame({{'run_id': ['r'] * {chunk}, 'auc': [0.5] * {chunk}}})\n"
        "print('ready', flush=True)\n"
        "while True:\n"
        f"    append_history(Path({str(root)!r}), new)\n"
    )
    append_history(root, pl.DataFrame({"run_id": ["r"] * chunk, "auc": [0.5] * chunk}))
    seen = chunk
    for delay in (0.05, 0.15, 0.3, 0.45, 0.6):  # after the imports: somewhere in a read, a write or a rename
        process = subprocess.Popen([sys.executable, "-c", writer], env=os.environ, stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        history = pl.read_parquet(root / REALISED_DIR / REALISED_FILE)
        assert history.height % chunk == 0 and history.height >= seen
        seen = history.height
    assert seen > chunk  # the writers got through some appends between the kills
    append_history(root, pl.DataFrame({"run_id": ["r"], "auc": [0.5], "when": [dt.datetime(2026, 12, 7)]}))
    assert read_history(root).height == seen + 1
