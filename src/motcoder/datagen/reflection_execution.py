"""One step of a reflection sequence in the sandbox: run the model's code block and the
problem's public tests, and write down what the interpreter said.

Everything runs in our execution engine (`motcoder.sandbox`); nothing generated runs here.

* Function problems (an entry point): the block — solution plus the model's own ``assert``
  tests — runs as a script (``__main__``, empty stdin), and its stdout and error text are
  reported as Python would print them. Then the solution (the block without its top-level
  asserts, so the model's own tests cannot mask it) runs on the problem's **public** tests
  through `Judge.run_tests`.
* stdin/stdout problems: the block runs on each public test's input and is compared with
  the expected output; a wrong output is shown next to the expected one. Without public
  tests it runs once on empty input.

A step passes when the script finished without error (function problems) and every public
test passed. Private and generated tests are never run here; the final answer is judged
elsewhere (`motcoder.datagen.reflection_sequences`).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from motcoder.problems.model import Problem
from motcoder.prompts.render import STATUS_WORDS, tidy_message
from motcoder.sandbox.judge import Judge, process_failure
from motcoder.sandbox.verdict import NOT_RUN, WRONG_ANSWER, TestOutcome
from motcoder.solvers.base import program_from
from motcoder.solvers.self_reflection import observe_stdout

OUTPUT_CHARS = 1500
ALL_PASSED = "All tests passed."
_FRAME = re.compile(r'^  File "solution\.py", line (\d+)')


@dataclass
class Execution:
    """What one run of a code block showed."""

    text: str                   # the execution block: what the interpreter printed
    passed: bool                # ran cleanly and passed every public test
    script_ok: bool | None      # the block ran as a script without error (None: not run)
    public_passed: int = 0
    public_total: int = 0


def clip(text: str, limit: int = OUTPUT_CHARS) -> str:
    """Long output cut in the middle, keeping both ends (errors come last)."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... [{len(text) - limit} characters left out] ...\n{text[-half:]}"


def strip_asserts(code: str) -> str:
    """``code`` without its top-level ``assert`` statements (as is when it does not parse)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code
    lines = code.split("\n")
    drop: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.Assert) and node.end_lineno is not None:
            drop.update(range(node.lineno - 1, node.end_lineno))
    return "\n".join(line for i, line in enumerate(lines) if i not in drop)


def python_error_text(stderr: str, code: str) -> str:
    """The program's traceback as Python prints it for a script named ``solution.py``:
    the sandbox's own frames left out, each frame of the program followed by its line."""
    source = code.split("\n")
    out: list[str] = []
    for line in tidy_message(stderr).split("\n"):
        out.append(line)
        match = _FRAME.match(line)
        if match and 0 < int(match.group(1)) <= len(source):
            text = source[int(match.group(1)) - 1].strip()
            if text:
                out.append(f"    {text}")
    # tidy_message keeps a frame's source line when it is shown; drop doubled lines
    return "\n".join(line for i, line in enumerate(out) if i == 0 or line != out[i - 1])


def run_script(judge: Judge, problem: Problem, code: str, stdin: str = "") -> tuple[bool, str]:
    """Run ``code`` as ``__main__`` in the sandbox; (finished without error, its output)."""
    limits = judge.limits
    cpu = limits.cpu_for(problem)
    raw = judge.sandbox.run({"mode": "stdio", "code": code, "stdin": stdin}, cpu=cpu,
                            wall=limits.wall_for(cpu), mem_mb=limits.memory_for(problem),
                            out_mb=limits.output_mb)
    stdout = raw.stdout.decode("utf-8", "replace").rstrip("\n")
    failure = process_failure(raw, cpu, limits.output_mb)
    parts = [clip(stdout)] if stdout else []
    if failure is not None:
        status, message = failure
        stderr = raw.stderr.decode("utf-8", "replace").strip()
        if stderr and "Traceback" in stderr:
            parts.append(clip(python_error_text(stderr, code)))
        else:
            parts.append(f"{STATUS_WORDS.get(status, status)}: {message}")
    return failure is None, "\n".join(parts)


def _case_text(problem: Problem, outcome: TestOutcome, observed: dict[int, str]) -> str:
    test = problem.public_tests[outcome.index]
    status = STATUS_WORDS.get(outcome.status, outcome.status)
    message = tidy_message(outcome.message)
    if test.kind == "stdio":
        lines = [f"example {outcome.index + 1}: {status}", "input:",
                 clip(test.input.rstrip("\n")), "expected output:",
                 clip(test.output.rstrip("\n"))]
        if outcome.index in observed:
            lines += ["your output:", clip(observed[outcome.index].rstrip("\n")) or "(nothing)"]
        elif message:
            lines.append(clip(message))
        return "\n".join(lines)
    if test.kind == "call":
        args = ", ".join(repr(a) for a in test.args)
        head = f"{problem.entry_point}({args}) should return {test.expected!r}"
    else:
        head = test.script.strip()
    return "\n".join([f"test: {clip(head, 500)}", f"{status}" + (f": {clip(message)}"
                                                                 if message else "")])


def run_public(judge: Judge, problem: Problem, code: str) -> tuple[int, int, str]:
    """The solution on the public tests: (passed, total, report of the failures)."""
    public = problem.public_tests
    outcomes, _ = judge.run_tests(problem, code, public, early_stop=False)
    passed = sum(o.passed for o in outcomes)
    failing = [o for o in outcomes if not o.passed and o.status != NOT_RUN][:2]
    observed: dict[int, str] = {}
    for outcome in failing:
        if outcome.status == WRONG_ANSWER and public[outcome.index].kind == "stdio":
            got = observe_stdout(judge, problem, code, public[outcome.index])
            if got is not None:
                observed[outcome.index] = got
    report = "\n\n".join(_case_text(problem, o, observed) for o in failing)
    return passed, len(public), report


def execute_step(judge: Judge, problem: Problem, code: str) -> Execution:
    """Run one code block of a sequence (see the module docstring)."""
    public = problem.public_tests
    if problem.is_call_based:
        script_ok, output = run_script(judge, problem, code)
        parts = [output] if output else []
        passed = total = 0
        if public:
            program, _ = program_from(problem, f"```python\n{strip_asserts(code)}\n```")
            passed, total, report = run_public(judge, problem, program)
            parts.append(_count_line(passed, total, report))
        ok = script_ok and passed == total
        parts.append(ALL_PASSED if ok else "" if parts else "(no output)")
        return Execution("\n".join(p for p in parts if p), ok, script_ok, passed, total)
    if not public:
        script_ok, output = run_script(judge, problem, code)
        text = "\n".join(p for p in (output, ALL_PASSED if script_ok else "") if p)
        return Execution(text or "(no output)", script_ok, script_ok)
    passed, total, report = run_public(judge, problem, code)
    ok = passed == total
    text = _count_line(passed, total, report) + (f"\n{ALL_PASSED}" if ok else "")
    return Execution(text, ok, None, passed, total)


def _count_line(passed: int, total: int, report: str) -> str:
    return f"Example tests: {passed} of {total} passed." + (f"\n{report}" if report else "")
