"""Converters between benchmark formats.

`convert_codecontests` writes CodeContests problems in the APPS schema (as MoTCoder's
evaluation expects) without losing what the usual converters drop: every public, private
and generated test (``input_output["visibility"]`` keeps them apart), the difficulty name,
the time and memory limits, the problem name and its split. Loading the result with the
APPS loader gives back the same tests, visibilities and limits.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from motcoder.problems.codecontests import load_codecontests
from motcoder.problems.errors import ProblemLoadError
from motcoder.problems.model import Problem
from motcoder.problems.records import write_jsonl


def problem_to_apps_record(problem: Problem, problem_id: int) -> dict[str, Any]:
    """One stdin/stdout problem as an APPS-schema record (with our extra keys)."""
    if any(t.kind != "stdio" for t in problem.tests):
        raise ProblemLoadError(
            f"problem {problem.id}: only stdin/stdout problems can be written in the APPS "
            "stdin/stdout schema"
        )
    io = {
        "inputs": [t.input for t in problem.tests],
        "outputs": [t.output for t in problem.tests],
        "visibility": [t.visibility for t in problem.tests],
    }
    record: dict[str, Any] = {
        "problem_id": problem_id,
        "name": problem.id,
        "question": problem.statement,
        "solutions": json.dumps(problem.solutions),
        "input_output": json.dumps(io) if problem.tests else "",
        "difficulty": problem.difficulty,
        "url": "",
        "starter_code": problem.starter_code,
        "time_limit": problem.time_limit,
        "memory_limit_mb": problem.memory_limit_mb,
        "source": problem.source,
        "split": problem.split,
    }
    for key in ("cf_rating", "cf_tags", "site"):
        if key in problem.metadata:
            record[key] = problem.metadata[key]
    return record


def _count(problems: Iterable[Problem]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for problem in problems:
        counts["problems"] += 1
        counts["solutions"] += len(problem.solutions)
        counts["without_tests"] += not problem.tests
        counts.update(t.visibility for t in problem.tests)
    return {key: counts[key] for key in
            ("problems", "public", "private", "generated", "solutions", "without_tests")}


def convert_codecontests(
    src: str | Path | None, dst: str | Path, *, split: str | None = None
) -> dict[str, int]:
    """Convert CodeContests (a local file, or the hub ``split`` when ``src`` is None) to an
    APPS-schema JSONL file ``dst``; return counts of problems, tests per visibility,
    Python 3 solutions and problems without tests."""
    problems = load_codecontests(src, split=split)
    write_jsonl(dst, (problem_to_apps_record(p, i) for i, p in enumerate(problems)))
    return _count(problems)
