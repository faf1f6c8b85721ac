"""DVC stage `dl_score`: DL Scores of every validated row with the selected model (Ray Data)."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.params import stage_params
from sonorisk.deep.jobs import score_job


def main() -> None:
    params = stage_params("dl_score")
    cohorts = sorted(Path("data/validated").glob("*.parquet"))
    summary = score_job(cohorts, Path("models/deep"), Path("data/scores/dl.parquet"), params["batch_size"])
    Path("reports/metrics").mkdir(parents=True, exist_ok=True)
    Path("reports/metrics/dl_score.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(
        f"dl_score: {summary['rows']} rows, {summary['scored']} scored, {summary['unscorable']} unscorable, "
        f"{summary['seconds']:.0f} s"
    )


if __name__ == "__main__":
    main()
