"""One table per patient with every model's score, the split, the outcome and the clinical fields.

Training patients carry only out-of-fold scores (Rad Score, the XGBoost and clinical models from the
radiomics stage, DL Score from the k-fold DL models); a training patient without an out-of-fold DL
Score gets null, never the in-sample score of the model trained on them. Other patients carry the
scores of the models fitted on all training patients.

Example:
    >>> import polars as pl
    >>> key = {"cohort_id": ["c", "c"], "patient_id": ["p1", "p2"]}
    >>> rad = pl.DataFrame(key | {"center": ["A", "B"], "split": ["training", "external"],
    ...     "outcome": [True, False], "clinical_only": [0.1, 0.2], "rad_score": [0.3, 0.4],
    ...     "radiomics_clinical_xgb": [0.5, 0.6]})
    >>> dl = pl.DataFrame(key | {"dl_score": [0.9, 0.7]})
    >>> oof = pl.DataFrame({"cohort_id": ["c"], "patient_id": ["p1"], "dl_score_oof": [0.2]})
    >>> clinical = pl.DataFrame(key | {"age": [50, 60]})
    >>> assemble_scores(rad, dl, oof, clinical)["dl_score"].to_list()
    [0.2, 0.7]
"""

from __future__ import annotations

import polars as pl

KEY = ["cohort_id", "patient_id"]
SINGLE_SOURCE = ("clinical_only", "rad_score", "radiomics_clinical_xgb", "dl_score")


def assemble_scores(
    radiomics_scores: pl.DataFrame, dl_scores: pl.DataFrame, dl_oof: pl.DataFrame, clinical: pl.DataFrame
) -> pl.DataFrame:
    """Join on (cohort_id, patient_id); the row set is the radiomics score table's (every scored row)."""
    missing = [c for c in ("split", "outcome", *SINGLE_SOURCE[:3]) if c not in radiomics_scores.columns]
    if missing:
        raise ValueError(f"radiomics score table lacks {missing}: re-run the radiomics_model stage")
    training = pl.col("split") == "training"
    table = (
        radiomics_scores.join(dl_scores.select([*KEY, "dl_score"]), on=KEY, how="left")
        .join(dl_oof.select([*KEY, "dl_score_oof"]), on=KEY, how="left")
        .with_columns(pl.when(training).then(pl.col("dl_score_oof")).otherwise(pl.col("dl_score")).alias("dl_score"))
        .drop("dl_score_oof")
        .join(clinical, on=KEY, how="left", suffix="_clinical")
    )
    if table.height != radiomics_scores.height:
        raise ValueError("duplicate (cohort_id, patient_id) keys among the score tables")
    return table.sort(KEY)
