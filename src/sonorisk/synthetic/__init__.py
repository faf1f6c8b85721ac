"""The synthetic study: centres, clinical fields, the true outcome model and the B-mode simulator.
Used by the synth stage, tests and benchmarks only; no pipeline code imports it."""
