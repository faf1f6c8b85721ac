"""Cohorts: schema, synthetic generator, ingest of real data, splits."""
