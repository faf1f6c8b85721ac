"""What the radiomics, deep and fusion models share: person-grouped folds, out-of-fold scoring and
its alignment, one XGBoost grid search, clinical encoding and the clinical baseline."""
