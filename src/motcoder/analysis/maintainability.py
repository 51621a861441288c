"""Maintainability of passing solutions, measured with radon (MoTCoder Fig. 4c).

For every passing final attempt with code, per difficulty group (then ``all``), the means of:

* ``mi`` — radon's maintainability index, ``radon.metrics.mi_visit(code, multi=True)``
  (multi-line strings count as comments, as in ``radon mi``); 0–100, higher is better;
* ``cc`` — cyclomatic complexity: ``radon.complexity.average_complexity`` over the blocks
  ``radon.complexity.cc_visit`` finds (functions, classes and methods). A program with no
  such block (a plain script) gets the complexity radon gives its module-level code,
  ``ComplexityVisitor.from_code(code).complexity``;
* ``loc`` and ``sloc`` — ``radon.raw.analyze``: all lines, and source lines of code.

The formulas are radon's; nothing is re-derived here. Code radon cannot parse is skipped and
counted in ``skipped``; ``solutions`` is the number measured. Means are ``None`` for a group
with nothing measured.
"""

from __future__ import annotations

import functools
import statistics
import tokenize
from dataclasses import asdict, dataclass
from typing import Any

from motcoder.analysis.grouping import grouped
from motcoder.analysis.loading import FinalAttempt, RunData

METRICS: tuple[str, ...] = ("mi", "cc", "loc", "sloc")


@dataclass(frozen=True)
class CodeMetrics:
    """radon's measurements of one program."""

    mi: float
    cc: float
    loc: int
    sloc: int


# Cached: sampled runs and compared runs often hold the same program many times.
@functools.lru_cache(maxsize=8192)
def measure_code(code: str) -> CodeMetrics | None:
    """radon's MI, mean CC, LOC and SLOC of ``code``; ``None`` when radon cannot parse it."""
    from radon.complexity import average_complexity, cc_visit
    from radon.metrics import mi_visit
    from radon.raw import analyze
    from radon.visitors import ComplexityVisitor

    try:
        blocks = cc_visit(code)
        cc = (average_complexity(blocks) if blocks
              else ComplexityVisitor.from_code(code).complexity)
        raw = analyze(code)
        mi = mi_visit(code, True)
    except (SyntaxError, tokenize.TokenError, ValueError, TypeError, RecursionError,
            MemoryError):
        return None
    return CodeMetrics(mi=float(mi), cc=float(cc), loc=raw.loc, sloc=raw.sloc)


def _group_row(name: str, items: list[tuple[FinalAttempt, CodeMetrics | None]]
               ) -> dict[str, Any]:
    measured = [asdict(m) for _, m in items if m is not None]
    row: dict[str, Any] = {"difficulty": name, "solutions": len(measured),
                           "skipped": len(items) - len(measured)}
    for metric in METRICS:
        row[metric] = (statistics.fmean(m[metric] for m in measured) if measured else None)
    return row


def maintainability_rows(run: RunData) -> list[dict[str, Any]]:
    """One row per difficulty group (then ``all``) of the run's passing final attempts."""
    items = [(f, measure_code(f.code)) for f in run.finals if f.passed and f.code is not None]
    groups = grouped(items, lambda item: run.difficulties.get(item[0].task_id),
                     run.difficulties.values())
    return [_group_row(name, members) for name, members in groups.items()]
