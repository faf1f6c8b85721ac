"""Statistics of scores: AUC, DeLong, metrics at a threshold, calibration, curves (arrays in, numbers out)."""
