"""CPU time and peak memory of solutions that pass in *both* of two runs (MoTCoder Fig. 4b).

Pairing rule: a problem is paired when each run has at least one passing final attempt for
it (`motcoder.analysis.loading.RunData.finals`). In each run the problem is measured on its
passing final attempt with the lowest ``sample_index`` (with one greedy sample per problem:
that sample) — so both runs are measured on one program each, and a problem only one run
solved is left out. A program's measurements are the verdict's own: ``cpu_time`` = total CPU
seconds over its judged tests, ``peak_memory_mb`` = the largest peak resident memory of any
test (`motcoder.sandbox.verdict.Verdict`).

Per difficulty group (then ``all``): the number of paired problems and, for each run, the
mean and median of both measurements (``None`` when the group has no paired problem).
"""

from __future__ import annotations

import statistics
from typing import Any

from motcoder.analysis.grouping import grouped
from motcoder.analysis.loading import FinalAttempt, RunData

MEASURES: tuple[str, ...] = ("cpu_time", "peak_memory_mb")

RULE = ("problems with a passing final attempt in both runs; each run is measured on its "
        "passing final attempt with the lowest sample index")


def first_passing(run: RunData) -> dict[str, FinalAttempt]:
    """Per problem, the passing final attempt with the lowest sample index."""
    chosen: dict[str, FinalAttempt] = {}
    for final in run.finals:
        if final.passed:
            best = chosen.get(final.task_id)
            if best is None or final.sample_index < best.sample_index:
                chosen[final.task_id] = final
    return chosen


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None}
    return {"mean": statistics.fmean(values), "median": statistics.median(values)}


def compare_resources(a: RunData, b: RunData) -> dict[str, Any]:
    """``{"pair": [a, b], "rule", "notes", "problems": [...], "rows": [...]}``.

    ``problems``: one entry per paired problem (task id, difficulty, and each measurement as
    ``{label: value}``); ``rows``: per group, ``problems`` and ``{measure: {label: {"mean",
    "median"}}}``.
    """
    if a.label == b.label:
        raise ValueError(f"the two runs of a resource comparison need different labels, "
                         f"both are {a.label!r}")
    passed_a, passed_b = first_passing(a), first_passing(b)
    paired = sorted(set(passed_a) & set(passed_b))
    problems = []
    for task in paired:
        difficulty = a.difficulties.get(task) or b.difficulties.get(task)
        entry: dict[str, Any] = {"task_id": task, "difficulty": difficulty}
        for measure in MEASURES:
            entry[measure] = {a.label: getattr(passed_a[task].verdict, measure),
                              b.label: getattr(passed_b[task].verdict, measure)}
        problems.append(entry)
    rows = []
    for name, members in grouped(problems, lambda p: p["difficulty"],
                                   [*a.difficulties.values(), *b.difficulties.values()]).items():
        row: dict[str, Any] = {"difficulty": name, "problems": len(members)}
        for measure in MEASURES:
            row[measure] = {label: _stats([p[measure][label] for p in members])
                            for label in (a.label, b.label)}
        rows.append(row)
    notes = []
    if a.benchmark and b.benchmark and a.benchmark != b.benchmark:
        notes.append(f"the runs are on different benchmarks ({a.benchmark} and "
                     f"{b.benchmark}); only task ids present in both are paired")
    only = {a.label: len(set(passed_a) - set(paired)), b.label: len(set(passed_b) - set(paired))}
    notes.append("left out (passed by one run only): " + ", ".join(
        f"{label}: {n}" for label, n in only.items()))
    if not paired:
        notes.append("no problem is passed by both runs, so nothing can be compared")
    return {"pair": [a.label, b.label], "rule": RULE, "notes": notes, "problems": problems,
            "rows": rows}
