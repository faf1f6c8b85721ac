"""DVC stage `dl_score`: DL Scores of every validated row with the selected model (Ray Data)."""

from __future__ import annotations

from sonorisk import paths
from sonorisk.atomic_file import write_json
from sonorisk.deep.score_job import DlScoreParams, score_job
from sonorisk.gates import run_stage
from sonorisk.params import stage_params


def main() -> None:
    params = stage_params("dl_score", DlScoreParams)
    summary = score_job(paths.validated_cohorts(), paths.DEEP_MODELS, paths.DL_SCORES, params.batch_size)
    seconds = summary.pop("seconds")  # varies run to run: the timings file, not the tracked metrics
    write_json(paths.metrics_file("dl_score"), summary)
    write_json(paths.TIMINGS_DIR / "dl_score.json", {"total": seconds})
    print(
        f"dl_score: {summary['rows']} rows, {summary['scored']} scored, {summary['unscorable']} unscorable, "
        f"{seconds:.0f} s"
    )


if __name__ == "__main__":
    run_stage("dl_score", main)
