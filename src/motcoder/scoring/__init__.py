"""Scoring: samples -> verdicts (via the sandbox) -> pass@k, accuracy and tables."""
