"""Metrics, statistical tests and reports."""
