"""``sonorisk fusion``, ``sonorisk external-scores``, ``sonorisk evaluate`` and ``sonorisk
survival-evaluate`` (kept apart from cli.py so each module stays short; cli.py registers them)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sonorisk import paths


def add_commands(sub: argparse._SubParsersAction) -> None:
    _add_fusion(sub)
    _add_external_scores(sub)
    _add_evaluate(sub)
    _add_survival_evaluate(sub)


def _add_fusion(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fusion",
        help="fit the fusion model (clinical fields + Rad Score + DL Score) on the training split",
        description=(
            "Fit the fusion model on training patients' out-of-fold Rad and DL Scores and their clinical "
            "fields: logistic regression vs XGBoost by cross-validated AUC, Platt vs isotonic calibration by "
            "CV Brier, risk-group thresholds (Youden; >= 90 % training sensitivity) from training only. "
            "Writes the model (JSON, plus UBJ for a booster) and one table with every model's score per "
            "patient (the input of `sonorisk evaluate`)."
        ),
    )
    p.add_argument(
        "--radiomics-scores",
        type=Path,
        default=paths.RADIOMICS_SCORES,
        help="radiomics_model stage scores (split, outcome, clinical_only, rad_score, XGBoost)",
    )
    p.add_argument("--dl-scores", type=Path, default=paths.DL_SCORES, help="sonorisk dl-score output")
    p.add_argument(
        "--dl-oof",
        type=Path,
        default=paths.DL_OOF_SCORES,
        help="out-of-fold DL Scores of training patients (sonorisk dl-train --oof)",
    )
    p.add_argument(
        "--validated",
        type=Path,
        nargs="+",
        default=None,
        help="validated cohort Parquet file(s) for the clinical fields (default data/validated/*.parquet)",
    )
    p.add_argument("--params", type=Path, default=paths.PARAMS_FILE, help="file with a `fusion:` section")
    p.add_argument("--model-out", type=Path, required=True, help="model folder (the pipeline's is DVC's: dvc repro)")
    p.add_argument("--out", type=Path, required=True, help="score table (the pipeline's is DVC's: dvc repro)")
    p.set_defaults(run=_run_fusion)


def _run_fusion(args: argparse.Namespace) -> int:
    from sonorisk.fusion.fit import FusionParams
    from sonorisk.fusion.job import FusionInputs, run_fusion
    from sonorisk.params import stage_params

    params = stage_params("fusion", FusionParams, args.params)
    validated = args.validated or paths.validated_cohorts()
    inputs = FusionInputs(args.radiomics_scores, args.dl_scores, args.dl_oof, validated)
    summary = run_fusion(inputs, params, args.model_out, args.out)
    print(
        f"fusion: {summary['kind']}, CV AUC {summary['selection']['best_cv_auc']:.3f}, calibration "
        f"{summary['calibration']}; {summary['patients']} patients scored ({summary['imputed_scores']} with an "
        f"imputed score) -> {args.out}; model -> {args.model_out}"
    )
    return 0


def _add_external_scores(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "external-scores",
        help="every model's score for a cohort the models never saw, from the frozen bundle",
        description=(
            "Apply the frozen bundle's models (verified against its manifest first) to a validated cohort's "
            "radiomics features and DL Scores: every single-source score, the fused risk and group, and the "
            "survival fusion's risks by 24 and 36 months where the study had follow-up. Writes a table with the "
            "fusion stage's columns, split = external, for `sonorisk evaluate`; the outcome column is the "
            "study's, as the bundle records it."
        ),
    )
    p.add_argument("validated", type=Path, help="validated cohort Parquet")
    p.add_argument("--features", type=Path, required=True, help="its radiomics features (sonorisk radiomics)")
    p.add_argument("--dl-scores", type=Path, required=True, help="its DL Scores (sonorisk dl-score)")
    p.add_argument(
        "--bundle", type=Path, default=paths.BUNDLE_DIR, help="the frozen bundle (verified before use; `dvc repro`)"
    )
    p.add_argument("--out", type=Path, required=True, help="score table Parquet")
    p.set_defaults(run=_run_external_scores)


def _run_external_scores(args: argparse.Namespace) -> int:
    import polars as pl
    import pyarrow.parquet as pq

    from sonorisk.atomic_file import write_parquet
    from sonorisk.risk.frozen import FrozenBundle

    for path in (args.validated, args.features, args.dl_scores):
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist")
    frozen = FrozenBundle.open(args.bundle)  # the outcome column is the study's, as the bundle records it
    table = frozen.score(pl.read_parquet(args.validated), pq.read_table(args.features), pl.read_parquet(args.dl_scores))
    write_parquet(table, args.out)
    groups = table["risk_group"].value_counts().sort("risk_group").rows()
    print(f"wrote {args.out}: {table.height} images; risk groups " + ", ".join(f"{g} {n}" for g, n in groups))
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="results table, figures, SHAP and an HTML report for a score table",
        description=(
            "Evaluate every model on every cohort of a score table (from `sonorisk fusion` or "
            "`sonorisk external-scores`): AUC with 95 % DeLong CI, accuracy, sensitivity, specificity, PPV, "
            "NPV and F1 at thresholds fixed on training data, Brier score, calibration intercept and slope, "
            "decision curves, DeLong tests against fusion, the oracle AUC when truth files are given. Writes "
            "OUT_DIR/metrics.json, OUT_DIR/report.html, OUT_DIR/figures/*.png, OUT_DIR/plots/ (DVC plot data) "
            "and OUT_DIR/details/ (full results, SHAP values), and prints the results table."
        ),
    )
    p.add_argument("--scores", type=Path, default=paths.FUSION_SCORES, help="score table")
    p.add_argument("--fusion-model", type=Path, default=paths.FUSION_MODELS, help="fusion model folder (thresholds)")
    p.add_argument("--validated", type=Path, nargs="*", default=[], help="validated cohorts (baseline table)")
    p.add_argument("--truth", type=Path, nargs="*", default=[], help="synthetic truth files (oracle AUC)")
    p.add_argument("--validation-summary", type=Path, nargs="*", default=[], help="sonorisk validate summaries (flow)")
    p.add_argument("--title", default="SonoRisk evaluation report", help="the report's title")
    p.add_argument("--out-dir", type=Path, required=True, help="folder for metrics, report, figures, plot data")
    p.set_defaults(run=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from sonorisk.evaluation.job import EvaluationInputs, EvaluationOutputs, results_lines, run_evaluation

    for path in (args.scores, *args.validated, *args.truth, *args.validation_summary):
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist")
    inputs = EvaluationInputs(
        args.scores, args.fusion_model, args.validated, args.truth, args.validation_summary, title=args.title
    )
    out = args.out_dir
    outputs = EvaluationOutputs(
        out / "metrics.json", out / "report.html", out / "figures", out / "plots", out / "details"
    )
    doc = run_evaluation(inputs, outputs)
    print("\n".join(results_lines(doc)))
    print(f"report: {outputs.report}")
    return 0


def _add_survival_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "survival-evaluate",
        help="time-to-event metrics of the frozen survival models on a cohort (C-index, td-AUC, Brier, KM)",
        description=(
            "Score a cohort with the frozen survival models (models/survival, from `dvc repro survival`) and "
            "report per model: Harrell's and Uno's C with bootstrap 95 % CIs, cumulative/dynamic AUC at the "
            "horizons, the integrated Brier score, calibration at 24 and 36 months (predicted vs Kaplan-Meier "
            "by risk decile, slope) and Kaplan-Meier by risk group with the log-rank test; with synthetic truth "
            "files, the true event-time model as the oracle. Needs follow-up (followup_months) in the cohort."
        ),
    )
    p.add_argument("--scores", type=Path, required=True, help="score table (sonorisk external-scores)")
    p.add_argument("--validated", type=Path, nargs="+", required=True, help="validated cohort(s): fields, follow-up")
    p.add_argument("--truth", type=Path, nargs="*", default=[], help="synthetic truth files (oracle)")
    p.add_argument("--survival-models", type=Path, default=paths.SURVIVAL_MODELS, help="survival model folder")
    p.add_argument("--params", type=Path, default=paths.PARAMS_FILE, help="file with a `survival:` section")
    p.add_argument("--out", type=Path, required=True, help="metrics JSON")
    p.set_defaults(run=_run_survival_evaluate)


def _run_survival_evaluate(args: argparse.Namespace) -> int:
    import polars as pl

    from sonorisk.atomic_file import write_json
    from sonorisk.evaluation.survival_job import evaluate_saved, read_truth, summary_lines
    from sonorisk.fusion.survival import SurvivalParams
    from sonorisk.fusion.survival_job import load_models, read_followup, score_survival, with_inputs
    from sonorisk.params import stage_params

    for path in (args.scores, *args.validated, *args.truth):
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist")
    models = load_models(args.survival_models)
    if not models:
        raise FileNotFoundError(f"no survival models in {args.survival_models}: run `dvc repro survival`")
    followup = read_followup(args.validated)
    if followup is None:
        raise ValueError("the validated cohort has no follow-up (followup_months): nothing to evaluate over time")
    params = stage_params("survival", SurvivalParams, args.params)
    table = with_inputs(pl.read_parquet(args.scores), args.validated, followup)
    doc = evaluate_saved(score_survival(models, table), args.survival_models, params, read_truth(args.truth))
    write_json(args.out, doc, default=float)
    print("\n".join(summary_lines(doc)))
    print(f"metrics: {args.out}")
    return 0
