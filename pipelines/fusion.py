"""DVC stage `fusion`: clinical fields + Rad Score + DL Score, fitted on training patients' out-of-fold
scores; model to models/fusion/, every model's score per patient to data/scores/fusion.parquet."""

from __future__ import annotations

from sonorisk import paths
from sonorisk.fusion.fit import FusionParams
from sonorisk.fusion.job import FusionInputs, run_fusion, summary_line, write_summary
from sonorisk.gates import run_stage
from sonorisk.params import stage_params


def main() -> None:
    params = stage_params("fusion", FusionParams)
    inputs = FusionInputs(paths.RADIOMICS_SCORES, paths.DL_SCORES, paths.DL_OOF_SCORES, paths.validated_cohorts())
    summary = run_fusion(inputs, params, paths.FUSION_MODELS, paths.FUSION_SCORES)
    write_summary(summary, paths.FUSION_SELECTION)
    print(summary_line(summary))


if __name__ == "__main__":
    run_stage("fusion", main)
