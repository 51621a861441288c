"""The problem model shared by every benchmark, loader, solver and the execution engine.

A `Problem` carries its tests as one list; every `Test` says which kind it is and who may
see it:

* ``public``    — may be shown to a model or used for execution feedback;
* ``private``   — hidden; only the verdict may use it;
* ``generated`` — hidden extra tests (CodeContests' generated tests), kept apart.

Which visibilities decide the verdict is the problem's ``judge`` field, so that the
official semantics of each benchmark are kept (APPS and MBPP judge on all their tests,
HumanEval on the official check only) and a protocol such as muCode's can judge on the
private tests alone.

Test kinds:

* ``stdio``  — feed ``input`` on stdin, compare stdout with ``output``;
* ``call``   — call the entry point with ``args``, compare the return value with ``expected``;
* ``assert`` — an assertion ``script`` that calls the entry point (HumanEval's
  ``check(candidate)``, an MBPP ``assert``). It runs after the trusted ``setup_code``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

TestKind = Literal["stdio", "call", "assert"]
Visibility = Literal["public", "private", "generated"]

TEST_KINDS: tuple[str, ...] = ("stdio", "call", "assert")
VISIBILITIES: tuple[str, ...] = ("public", "private", "generated")


@dataclass
class Test:
    """One test of a problem. Only the fields of its ``kind`` are meaningful."""

    __test__ = False  # not a pytest test class

    kind: TestKind
    visibility: Visibility = "private"
    input: str = ""          # stdio: text given on stdin
    output: str = ""         # stdio: expected stdout
    args: list[Any] = field(default_factory=list)  # call: positional arguments (JSON values)
    expected: Any = None     # call: expected return value (JSON value)
    script: str = ""         # assert: code that calls the entry point and asserts

    def __post_init__(self) -> None:
        if self.kind not in TEST_KINDS:
            raise ValueError(f"test kind must be one of {TEST_KINDS}, got {self.kind!r}")
        if self.visibility not in VISIBILITIES:
            raise ValueError(
                f"test visibility must be one of {VISIBILITIES}, got {self.visibility!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Test:
        return cls(**data)


@dataclass
class Problem:
    """A programming problem with its tests, limits and (when known) reference solutions."""

    id: str
    source: str                      # humaneval | mbpp | apps | codecontests | file
    statement: str                   # what a model is shown (for HumanEval: the prompt)
    tests: list[Test] = field(default_factory=list)
    starter_code: str = ""
    entry_point: str | None = None   # function name (fn_name); None for stdin/stdout problems
    difficulty: str | None = None
    split: str | None = None
    time_limit: float | None = None  # seconds of CPU per test, when the problem sets one
    memory_limit_mb: int | None = None
    solutions: list[str] = field(default_factory=list)  # complete reference programs
    setup_code: str = ""             # trusted code assertion scripts need (imports, helpers)
    judge: list[str] = field(default_factory=lambda: list(VISIBILITIES))
    metadata: dict[str, Any] = field(default_factory=dict)

    def tests_of(self, *visibilities: str) -> list[Test]:
        return [t for t in self.tests if t.visibility in visibilities]

    @property
    def public_tests(self) -> list[Test]:
        return self.tests_of("public")

    @property
    def private_tests(self) -> list[Test]:
        return self.tests_of("private")

    @property
    def generated_tests(self) -> list[Test]:
        return self.tests_of("generated")

    def judged_tests(self, judge: list[str] | None = None) -> list[Test]:
        """The tests that decide the verdict (the problem's ``judge`` unless overridden)."""
        return self.tests_of(*(judge or self.judge))

    @property
    def is_call_based(self) -> bool:
        return self.entry_point is not None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        data = dict(data)
        data["tests"] = [Test.from_dict(t) for t in data.get("tests", [])]
        return cls(**data)
