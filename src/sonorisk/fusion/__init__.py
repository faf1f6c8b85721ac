"""Fusion of clinical fields, Rad Score and DL Score: stacking, calibration, risk groups."""
