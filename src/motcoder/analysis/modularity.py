"""Modularity of solutions: how many functions and classes a final answer defines, and the
accuracy of answers by their number of functions (MoTCoder Fig. 4a).

Counts come from Python's ``ast``: every ``def`` and ``async def`` anywhere in the program
— top-level functions, nested functions and methods — and every ``class``; lambdas are not
functions here. Code that does not parse is counted as ``unparsable`` and final attempts
without code as ``no_code``; neither has a function count, so neither is in a bucket.

Every final attempt (`motcoder.analysis.loading.RunData.finals`: one per problem and sample)
is one solution. Per difficulty group and bucket of function counts (0, 1, 2, 3, 4, 5+):
``solutions``, ``passed`` and ``accuracy`` = passed / solutions (``None`` for an empty
bucket). ``mean_functions`` / ``mean_classes`` are over the *passing* parsable solutions.
"""

from __future__ import annotations

import ast
import functools
import statistics
from dataclasses import dataclass
from typing import Any

from motcoder.analysis.grouping import grouped
from motcoder.analysis.loading import FinalAttempt, RunData

BUCKETS: tuple[str, ...] = ("0", "1", "2", "3", "4", "5+")


@dataclass(frozen=True)
class DefinitionCounts:
    """Functions (incl. nested functions and methods) and classes defined by a program."""

    functions: int
    classes: int


# Cached: sampled runs and compared runs often hold the same program many times.
@functools.lru_cache(maxsize=8192)
def count_definitions(code: str) -> DefinitionCounts | None:
    """The definitions of ``code``, or ``None`` when it does not parse as Python."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    functions = classes = 0
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions += 1
        elif isinstance(node, ast.ClassDef):
            classes += 1
    return DefinitionCounts(functions, classes)


def bucket(functions: int) -> str:
    """The bucket of a function count: ``"0"`` ... ``"4"``, ``"5+"``."""
    return str(functions) if functions < len(BUCKETS) - 1 else BUCKETS[-1]


def _mean(values: list[int]) -> float | None:
    return statistics.fmean(values) if values else None


def _group_row(name: str, items: list[tuple[FinalAttempt, DefinitionCounts | None]]
               ) -> dict[str, Any]:
    counted = [(f, c) for f, c in items if c is not None]
    buckets: dict[str, dict[str, Any]] = {}
    for label in BUCKETS:
        members = [f for f, c in counted if bucket(c.functions) == label]
        passed = sum(f.passed for f in members)
        buckets[label] = {"solutions": len(members), "passed": passed,
                          "accuracy": passed / len(members) if members else None}
    passing = [c for f, c in counted if f.passed]
    return {
        "difficulty": name,
        "solutions": len(items),
        "passed": sum(f.passed for f, _ in items),
        "no_code": sum(f.code is None for f, _ in items),
        "unparsable": sum(f.code is not None and c is None for f, c in items),
        "mean_functions": _mean([c.functions for c in passing]),
        "mean_classes": _mean([c.classes for c in passing]),
        "buckets": buckets,
    }


def modularity_rows(run: RunData) -> list[dict[str, Any]]:
    """One row per difficulty group (then ``all``) of the run's final attempts."""
    items = [(f, None if f.code is None else count_definitions(f.code)) for f in run.finals]
    groups = grouped(items, lambda item: run.difficulties.get(item[0].task_id),
                     run.difficulties.values())
    return [_group_row(name, members) for name, members in groups.items()]
