"""Does `dl_train` pick a model of the same quality whatever its seed? For each seed: the whole zoo
trained and chosen (`sonorisk dl-train --seed S`, the project's params, pretrained encoders
included), its fold ensemble scored on the large external cohort (`sonorisk dl-score`), and the
DL Score's AUC [95 % DeLong CI] against the cohort's truth file. Prints one line per seed and the
spread (max - min AUC). Run from the project root after `dvc repro` and `make external-check`.

    python benchmarks/dl_seed_stability.py --seeds 17 18 19 [--external build/external-large]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from sonorisk import paths
from sonorisk.stats.delong import auc_ci


def external_auc(scores: Path, truth: Path) -> tuple[float, float, float]:
    score = dict(zip(*pq.read_table(scores, columns=["patient_id", "dl_score"]).to_pydict().values(), strict=True))
    outcome = pq.read_table(truth, columns=["patient_id", "brain_metastasis"]).to_pydict()
    pairs = [(score[p], y) for p, y in zip(*outcome.values(), strict=True) if score.get(p) is not None]
    estimate = auc_ci(np.array([y for _, y in pairs], bool), np.array([s for s, _ in pairs]))
    return estimate.auc, estimate.low, estimate.high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[17, 18, 19])
    parser.add_argument("--external", type=Path, default=paths.EXTERNAL_CHECK_DIR)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "sonorisk"]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            out = Path(tmp) / str(seed)
            subprocess.run(
                [*cli, "dl-train", *map(str, paths.validated_cohorts()), "--seed", str(seed),
                 "--out", str(out / "model"), "--oof", str(out / "oof.parquet"), "--metrics", str(out / "deep.json")],
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            subprocess.run(
                [*cli, "dl-score", str(args.external / "validated.parquet"), "--model", str(out / "model"),
                 "--out", str(out / "dl.parquet")],
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            auc, low, high = external_auc(out / "dl.parquet", args.external / "cohort.truth.parquet")
            winner = json.loads((out / "model" / "model_card.json").read_text())["architecture"]
            results[seed] = {"winner": winner, "auc": round(auc, 3), "ci": [round(low, 3), round(high, 3)]}
            print(f"seed {seed}: {winner}, large-external DL Score AUC {auc:.3f} [{low:.3f}, {high:.3f}]", flush=True)
    aucs = [r["auc"] for r in results.values()]
    print(f"spread (max - min AUC): {max(aucs) - min(aucs):.3f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
