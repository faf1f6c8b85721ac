"""Scoring new cohorts with frozen models: score composition, risk tables, query."""
