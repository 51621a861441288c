"""Accuracy of repeated searches (multi-turn Best-of-N): per search, averaged, per turn.

A search is one sample (``sample_index`` = search) of a problem; its turns are rounds. The
answer of search ``s`` after turn ``t`` is its last verdict with ``round <= t``
(`final_attempts`). For every search the accuracy is the fraction of problems whose answer
passed (as `counts_as_passed` counts it); the reported accuracy is the mean over searches
(equal to pass@1 over the searches), with the standard deviation across searches, and the
same after each turn.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from motcoder.sandbox.verdict import Verdict
from motcoder.scoring.evaluate import final_attempts
from motcoder.scoring.metrics import counts_as_passed


def _per_search(verdicts: list[Verdict], up_to: int | None,
                trust_in_child: bool) -> list[float]:
    answers = final_attempts(verdicts, up_to=up_to)
    problems = sorted({v.task_id for v in verdicts})
    searches = sorted({v.sample_index for v in verdicts})
    passed = {(v.task_id, v.sample_index): counts_as_passed(v, trust_in_child)
              for v in answers}
    return [sum(passed.get((p, s), False) for p in problems) / len(problems)
            for s in searches]


def _stats(values: list[float]) -> dict[str, Any]:
    return {"mean": statistics.fmean(values),
            "std": statistics.pstdev(values) if len(values) > 1 else 0.0,
            "per_search": values}


def search_summary(verdicts: Iterable[Verdict], trust_in_child: bool = False
                   ) -> dict[str, Any]:
    """``{"searches": S, "problems": P, "accuracy": {mean, std, per_search},
    "turns": {"1": {...}, "2": {...}}}`` — fractions in [0, 1]; turns numbered from 1.
    ``trust_in_child``: count passes judged inside the untrusted process."""
    verdicts = list(verdicts)
    if not verdicts:
        return {"searches": 0, "problems": 0, "accuracy": None, "turns": {}}
    rounds = sorted({v.round for v in verdicts})
    return {
        "searches": len({v.sample_index for v in verdicts}),
        "problems": len({v.task_id for v in verdicts}),
        "accuracy": _stats(_per_search(verdicts, None, trust_in_child)),
        "turns": {str(r + 1): _stats(_per_search(verdicts, r, trust_in_child))
                  for r in rounds},
    }
