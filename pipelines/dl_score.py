"""DVC stage `dl_score`: DL Scores of every validated row with the selected model (Ray Data)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from pipelines.params import stage_params
from sonorisk.deep.batch_scoring import score_cohorts
from sonorisk.runtime import ray_session


def main() -> None:
    params = stage_params("dl_score")
    start = time.perf_counter()
    with ray_session():
        summary = score_cohorts(
            sorted(Path("data/validated").glob("*.parquet")),
            Path("models/deep"),
            Path("data/scores/dl.parquet"),
            batch_size=params["batch_size"],
        )
    summary["seconds"] = round(time.perf_counter() - start, 1)
    Path("reports/metrics").mkdir(parents=True, exist_ok=True)
    Path("reports/metrics/dl_score.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(
        f"dl_score: {summary['rows']} rows, {summary['scored']} scored, {summary['unscorable']} unscorable, "
        f"{summary['seconds']:.0f} s"
    )


if __name__ == "__main__":
    main()
