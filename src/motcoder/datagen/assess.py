"""Assessment of a teacher's rewrite: accept it, or reject it with a stable reason.

Rules, checked in order; the first one broken is the reason recorded:

MoT style (rules 1-4 are `motcoder.prompts.mot_format.check_mot`):
  1. ``protocol``               no ``Step 1`` heading followed by a ``Step 2`` heading;
  2. ``no_submodule``           step 1 outlines no function with a docstring;
     ``code_outside_outlines``  step 1 holds code outside function outlines;
  3. ``no_final_program``       step 2 has no ```python block;
     ``several_final_programs`` step 2 has more than one;
  4. ``syntax``                 the final program does not parse.
Clean style:
  ``no_program`` (no closed ```python block), ``several_programs``, ``syntax``.
Both styles:
  5. ``tests_failed``           the program fails one of the problem's tests, run in the
                                sandbox through `Judge` (every test that decides the
                                problem's verdict; the first failing one is recorded);
     ``judged_in_child``        it passed, but only inside the untrusted process, where a
                                program can forge its verdict (accepted with
                                ``trust_in_child``: `motcoder.scoring.metrics.counts_as_passed`).

The program judged is exactly the one that would be exported: nothing is added to it.
An `Assessor` is thread-safe; run many `assess` calls in threads to keep every sandbox
worker busy.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from motcoder.problems.model import Problem
from motcoder.problems.samples import Sample
from motcoder.prompts.extract import code_blocks
from motcoder.prompts.mot_format import REASONS as MOT_REASONS
from motcoder.prompts.mot_format import check_mot
from motcoder.prompts.render import STATUS_WORDS
from motcoder.sandbox.judge import Judge
from motcoder.scoring.metrics import counts_as_passed

ACCEPTED = "accepted"
REJECTED = "rejected"

REASONS: dict[str, str] = {
    **MOT_REASONS,
    "no_program": "the answer has no complete ```python block",
    "several_programs": "the answer has more than one ```python block",
    "tests_failed": "the program fails the problem's tests",
    "judged_in_child": "the program passed only inside the untrusted process, where a "
                       "program can forge its verdict (--trust-in-child accepts it)",
}
# The order rejections are listed in (the order the rules are checked in).
REASON_ORDER: tuple[str, ...] = (
    "protocol", "no_submodule", "code_outside_outlines", "no_final_program",
    "several_final_programs", "no_program", "several_programs", "syntax", "tests_failed",
    "judged_in_child",
)
MESSAGE_CHARS = 500


@dataclass
class StructureCheck:
    """Whether an answer has the shape its style asks for, and its program."""

    ok: bool
    reason: str = ""     # a key of REASONS when not ok
    program: str = ""    # the program to judge / export ("" when there is none)


@dataclass
class Assessment:
    """The decision on one rewrite."""

    status: str                           # ACCEPTED | REJECTED
    reason: str = ""                      # a key of REASONS when rejected
    message: str = ""                     # the reason in words, with details
    program: str = ""                     # the final program (clean: the one program)
    failed_test: dict[str, Any] | None = None  # index, visibility, status, message
    tests_passed: int = 0
    tests_total: int = 0

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def check_clean(text: str) -> StructureCheck:
    """A clean rewrite is exactly one closed python block (or one without a language) that
    parses."""
    blocks = [b.code for b in code_blocks(text or "")
              if b.closed and (b.is_python or not b.language)]
    if not blocks:
        return StructureCheck(False, "no_program")
    if len(blocks) > 1:
        return StructureCheck(False, "several_programs")
    program = blocks[0].strip("\n") + "\n"
    if not program.strip() or not _parses(program):
        return StructureCheck(False, "syntax", program)
    return StructureCheck(True, program=program)


def check_structure(text: str, style: str) -> StructureCheck:
    """Rules 1-4 for ``style`` (``mot`` or ``clean``)."""
    if style == "mot":
        mot = check_mot(text or "")
        return StructureCheck(mot.ok, mot.reason, mot.final)
    if style == "clean":
        return check_clean(text)
    raise ValueError(f"unknown rewrite style {style!r}; choose mot or clean")


def _clip(text: str, limit: int = MESSAGE_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + " ..."


class Assessor:
    """Applies every rule to rewrites; the tests run in ``judge``'s sandbox.
    ``trust_in_child``: accept a pass judged inside the untrusted process."""

    def __init__(self, judge: Judge, trust_in_child: bool = False) -> None:
        self.judge = judge
        self.trust_in_child = trust_in_child

    def assess(self, problem: Problem, answer: str, style: str) -> Assessment:
        """Accept ``answer`` (a rewrite of a solution of ``problem``) or say why not."""
        structure = check_structure(answer, style)
        if not structure.ok:
            return Assessment(REJECTED, structure.reason, REASONS[structure.reason],
                              program=structure.program)
        verdict = self.judge.judge(problem, Sample(task_id=problem.id, code=structure.program))
        passed = verdict.passed_tests
        total = len(problem.judged_tests(self.judge.judge_override))
        if counts_as_passed(verdict, self.trust_in_child):
            return Assessment(ACCEPTED, program=structure.program, tests_passed=passed,
                              tests_total=total)
        if verdict.passed:
            return Assessment(REJECTED, "judged_in_child", REASONS["judged_in_child"],
                              program=structure.program, tests_passed=passed,
                              tests_total=total)
        failing = next((t for t in verdict.tests if not t.passed), None)
        failed_test = None
        detail = verdict.reason
        if failing is not None:
            failed_test = {"index": failing.index, "visibility": failing.visibility,
                           "status": failing.status, "message": _clip(failing.message)}
            word = STATUS_WORDS.get(failing.status, failing.status)
            detail = f"test {failing.index} ({failing.visibility}): {word}"
            if failing.message.strip():
                detail += f": {_clip(failing.message, 200)}"
        return Assessment(REJECTED, "tests_failed", f"{REASONS['tests_failed']} — {detail}",
                          program=structure.program, failed_test=failed_test,
                          tests_passed=passed, tests_total=total)
