"""Verdict records: what the execution engine decided about one program, test by test.

Plain dataclasses written as one JSONL record each. The pass/fail decision in them is
always taken by the trusted harness from data the program sent back (stdout bytes,
serialized return values), never from anything the program could set directly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# Status of one test. "passed" is the only passing status.
PASSED = "passed"
WRONG_ANSWER = "wrong_answer"
RUNTIME_ERROR = "runtime_error"
TIMEOUT = "timeout"
MEMORY_LIMIT = "memory_limit"
OUTPUT_LIMIT = "output_limit"
NOT_RUN = "not_run"            # skipped after an earlier failure (early stop)
NO_CODE = "no_code"            # the sample has no program to run
HARNESS_ERROR = "harness_error"  # the engine itself failed; never counted as a pass

STATUSES = (
    PASSED, WRONG_ANSWER, RUNTIME_ERROR, TIMEOUT, MEMORY_LIMIT, OUTPUT_LIMIT, NOT_RUN,
    NO_CODE, HARNESS_ERROR,
)

# How the verdict was reached.
TRUST_PARENT = "parent"      # judged in the harness from plain data (the normal case)
TRUST_IN_CHILD = "in-child"  # assertion script had to run inside the untrusted process


@dataclass
class TestOutcome:
    """The result of one test: status, measurements, and a short message for people."""

    index: int                  # position in the problem's judged tests
    visibility: str
    status: str
    cpu_time: float = 0.0       # seconds (user + system) of the process that ran it
    wall_time: float = 0.0      # seconds
    peak_memory_mb: float = 0.0  # peak resident set size of that process
    message: str = ""           # error text, or expected vs got, truncated

    @property
    def passed(self) -> bool:
        return self.status == PASSED


@dataclass
class Verdict:
    """The verdict on one sample (one program for one problem)."""

    task_id: str
    sample_index: int
    passed: bool
    status: str                 # "passed" or the status of the first failing test
    tests: list[TestOutcome] = field(default_factory=list)
    trust: str = TRUST_PARENT
    reason: str = ""            # why it failed, in one line
    difficulty: str | None = None
    round: int = 0              # multi-round solvers: the round of the judged attempt

    @property
    def passed_tests(self) -> int:
        return sum(t.passed for t in self.tests)

    @property
    def total_tests(self) -> int:
        return len(self.tests)

    @property
    def cpu_time(self) -> float:
        return sum(t.cpu_time for t in self.tests)

    @property
    def peak_memory_mb(self) -> float:
        return max((t.peak_memory_mb for t in self.tests), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        # Field by field rather than dataclasses.asdict, whose deep copy of every value
        # was a tenth of the harness's time on large evaluations.
        data = {f.name: getattr(self, f.name) for f in _VERDICT_FIELDS}
        data["tests"] = [{f.name: getattr(t, f.name) for f in _OUTCOME_FIELDS}
                         for t in self.tests]
        data["passed_tests"] = self.passed_tests
        data["total_tests"] = self.total_tests
        data["cpu_time"] = self.cpu_time
        data["peak_memory_mb"] = self.peak_memory_mb
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        names = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in data.items() if k in names}
        kept["tests"] = [TestOutcome(**t) for t in data.get("tests", [])]
        return cls(**kept)


_VERDICT_FIELDS = dataclasses.fields(Verdict)
_OUTCOME_FIELDS = dataclasses.fields(TestOutcome)
