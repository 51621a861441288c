"""Benchmark problems: one `Problem` model for all benchmarks, loaders and converters."""

from motcoder.problems.model import Problem, Test, TestKind, Visibility

__all__ = ["Problem", "Test", "TestKind", "Visibility"]
