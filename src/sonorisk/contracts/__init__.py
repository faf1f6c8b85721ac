"""Data contracts: column schema, Great Expectations suites and image checks -> row verdicts."""
