"""The execution engine: fork-server, isolation, limits, comparators and verdicts."""
