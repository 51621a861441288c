"""Accuracy after each round (self-reflection) or turn (multi-turn Best-of-N) of a run.

* A run with ``summary["searches"]`` (solver ``best_of_n``, `motcoder.scoring.searches`):
  one row per turn — the accuracy averaged over searches after that turn, with its standard
  deviation across searches (``kind`` ``"turn"``).
* Otherwise a run with ``summary["rounds"]`` (any multi-round solver, written by
  `motcoder.scoring.evaluate`): one row per round — pass@1 (or the smallest reported k) over
  all problems and per difficulty, if the solver had stopped after that round (``kind``
  ``"round"``).
* A single-round run has no rows.

Without ``summary.json`` the same summaries are computed from the verdicts with the
functions that write them. Steps are numbered from 1; accuracies are fractions in [0, 1].
"""

from __future__ import annotations

from typing import Any

from motcoder.analysis.loading import RunData
from motcoder.scoring.evaluate import final_attempts
from motcoder.scoring.metrics import ALL, summarize
from motcoder.scoring.searches import search_summary


def _summary(run: RunData) -> dict[str, Any]:
    """The run's summary, or one computed from its verdicts as evaluation would write it."""
    if run.summary is not None:
        return run.summary
    verdicts = list(run.verdicts.values())
    summary: dict[str, Any] = {}
    if run.solver == "best_of_n":
        summary["searches"] = search_summary(verdicts, run.trust_in_child)
    rounds = sorted({v.round for v in verdicts})
    if len(rounds) > 1:
        summary["rounds"] = {str(r): summarize(final_attempts(verdicts, up_to=r),
                                               run.difficulties,
                                               trust_in_child=run.trust_in_child)
                             for r in rounds}
    return summary


def _k(sub: dict[str, Any]) -> str:
    ks = [str(k) for k in sub.get("ks") or []] or list(sub["groups"][ALL]["pass@k"])
    return "1" if "1" in ks else min(ks, key=int)


def _round_rows(rounds: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for r, sub in sorted(rounds.items(), key=lambda item: int(item[0])):
        k = _k(sub)
        values = {name: group["pass@k"].get(k) for name, group in sub["groups"].items()}
        rows.append({"kind": "round", "step": int(r) + 1, "metric": f"pass@{k}",
                     "accuracy": values.pop(ALL), "std": None, "by_difficulty": values})
    return rows


def _turn_rows(searches: dict[str, Any]) -> list[dict[str, Any]]:
    metric = f"mean accuracy over {searches.get('searches', '?')} search(es)"
    return [{"kind": "turn", "step": int(t), "metric": metric, "accuracy": stats["mean"],
             "std": stats["std"], "by_difficulty": {}}
            for t, stats in sorted((searches.get("turns") or {}).items(),
                                   key=lambda item: int(item[0]))]


def round_rows(run: RunData) -> list[dict[str, Any]]:
    """The run's accuracy per turn or round (see the module docstring); ``[]`` for a
    single-round run."""
    summary = _summary(run)
    if summary.get("searches") and summary["searches"].get("turns"):
        return _turn_rows(summary["searches"])
    if summary.get("rounds"):
        return _round_rows(summary["rounds"])
    return []
