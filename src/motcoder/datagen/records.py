"""The record of one rewrite, and reading the rewrites of run directories.

A transformation run directory holds::

    config.json     the settings (checked again on --resume)
    rewrites.jsonl  one `Rewrite` per teacher answer, appended as soon as it is assessed
    summary.json    counts, token usage and cost, written at the end

A rewrite is keyed by ``(task_id, solution_index, round)``: the teacher's answer for
reference solution ``solution_index`` of problem ``task_id`` in evolution round ``round``
(0 first; round r + 1 exists only when round r was rejected).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motcoder.runs import RunDir, RunDirError, read_jsonl

REWRITES = "rewrites.jsonl"

RewriteKey = tuple[str, int, int]


@dataclass
class Rewrite:
    """One teacher answer for one reference solution, and its assessment."""

    task_id: str
    solution_index: int
    round: int
    source: str                       # the problem's source: apps | codecontests | file ...
    style: str                        # mot | clean
    status: str                       # accepted | rejected
    reason: str = ""                  # a key of `motcoder.datagen.assess.REASONS` if rejected
    message: str = ""                 # the reason in words, with details
    answer: str = ""                  # the teacher's raw answer
    program: str = ""                 # the final program found in it
    failed_test: dict[str, Any] | None = None
    tests_passed: int = 0
    tests_total: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    temperature: float = 0.0
    seed: int | None = None
    difficulty: str | None = None

    @property
    def key(self) -> RewriteKey:
        return (self.task_id, self.solution_index, self.round)

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rewrite:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def rewrite_key(record: Mapping[str, Any] | Rewrite) -> RewriteKey:
    """The resume key of a rewrite or of its JSONL record."""
    if isinstance(record, Rewrite):
        return record.key
    return (str(record["task_id"]), int(record["solution_index"]), int(record["round"]))


def latest_rounds(rewrites: Iterable[Rewrite]) -> dict[tuple[str, int], Rewrite]:
    """Per (task_id, solution_index), its rewrite of the highest round."""
    latest: dict[tuple[str, int], Rewrite] = {}
    for rewrite in rewrites:
        key = (rewrite.task_id, rewrite.solution_index)
        if key not in latest or rewrite.round > latest[key].round:
            latest[key] = rewrite
    return latest


def open_run(path: str | Path) -> RunDir:
    """An existing transformation run directory (it must hold ``rewrites.jsonl``)."""
    folder = Path(path)
    if not folder.is_dir():
        raise RunDirError(f"{folder}: no such run directory — pass the --out directory of a "
                          "`motcoder data transform` run")
    run = RunDir(folder)
    if not run.file(REWRITES).exists():
        raise RunDirError(f"{folder}: holds no {REWRITES}, so it is not a `motcoder data "
                          "transform` run directory (or the run has not written anything yet)")
    return run


def read_rewrites(path: str | Path) -> Iterator[Rewrite]:
    """The rewrites of one run directory, in the order they were written."""
    run = open_run(path)
    for record in read_jsonl(run.file(REWRITES)):
        yield Rewrite.from_dict(record)
