"""Cohorts: real data ingested from folders, splits that keep persons whole, preview montages."""
