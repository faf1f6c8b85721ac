"""Every model on every cohort: results tables, figures, SHAP values and the HTML report."""
