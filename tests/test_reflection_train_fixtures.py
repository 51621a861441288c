"""A small ReflectionSeq data set for the reflection-training tests, and checks that it is real.

Each toy problem has a buggy first attempt and a fixed one. A reflection sample is the
transcript of solving it with an interpreter: text → code (attempt + asserts) → execution
(the real output of running it, produced here by running the code) → text (the reflection)
→ fixed code → execution → final answer. Generation samples ask the same problems in one
turn. `write_reflection_fixture` writes both kinds as JSONL in the schema the trainer reads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ToyBug:
    name: str
    statement: str
    buggy: str
    fixed: str
    tests: str
    why: str


TOYS: tuple[ToyBug, ...] = (
    ToyBug("add", "Write add(a, b): the sum.", "def add(a, b): return a - b",
           "def add(a, b): return a + b", "assert add(2, 3) == 5", "Use +, not -."),
    ToyBug("even", "Write even(n): is n even?", "def even(n): return n % 2 == 1",
           "def even(n): return n % 2 == 0", "assert even(4)", "Even means remainder 0."),
    ToyBug("big", "Write big(xs): the largest item.", "def big(xs): return min(xs)",
           "def big(xs): return max(xs)", "assert big([3, 9]) == 9", "Use max, not min."),
    ToyBug("rev", "Write rev(s): s reversed.", "def rev(s): return s[1:]",
           "def rev(s): return s[::-1]", "assert rev('ab') == 'ba'", "Reverse with [::-1]."),
    ToyBug("sq", "Write sq(x): x squared.", "def sq(x): return x * 2",
           "def sq(x): return x * x", "assert sq(3) == 9", "Square is x * x."),
    ToyBug("last", "Write last(xs): the last item.", "def last(xs): return xs[0]",
           "def last(xs): return xs[-1]", "assert last([1, 2]) == 2", "The last is xs[-1]."),
)

REFLECTION_INSTRUCTION = "Solve with tests: "
REANSWER_INSTRUCTION = "Final answer only: "


def run_python(code: str) -> str:
    """What the interpreter prints for ``code`` (stdout + the last traceback line)."""
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                          timeout=30)
    lines = done.stderr.strip().splitlines()
    return (done.stdout + (lines[-1] if lines else "")).strip() or "(no output)"


def block(kind: str, content: str) -> dict[str, str]:
    return {"type": kind, "content": content}


def answer_text(toy: ToyBug) -> str:
    return f"```python\n{toy.fixed}\n```"


def reflection_record(toy: ToyBug) -> dict[str, Any]:
    attempt = f"{toy.buggy}\n{toy.tests}\nprint('ok')"
    fixed = f"{toy.fixed}\n{toy.tests}\nprint('ok')"
    return {"type": "reflection", "messages": [
        {"role": "user", "content": [block("text", REFLECTION_INSTRUCTION + toy.statement)]},
        {"role": "assistant", "content": [
            block("text", "Try:"),
            block("code", attempt),
            block("execution", run_python(attempt)),
            block("text", toy.why),
            block("code", fixed),
            block("execution", run_python(fixed)),
        ]},
        {"role": "user", "content": [block("text", REANSWER_INSTRUCTION + toy.statement)]},
        # the final answer as `motcoder data reflect` stores it: prose, then the program as a
        # code block without fences
        {"role": "assistant", "content": [block("text", "Here is the fix."),
                                          block("code", toy.fixed)]},
    ]}


def generation_record(toy: ToyBug) -> dict[str, Any]:
    return {"type": "generation", "messages": [
        {"role": "user", "content": [block("text", toy.statement)]},
        {"role": "assistant", "content": [block("text", answer_text(toy))]},
    ]}


def write_reflection_fixture(directory: Path) -> tuple[Path, Path]:
    """``(reflection.jsonl, generation.jsonl)`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "reflection.jsonl", directory / "generation.jsonl"
    for path, make in zip(paths, (reflection_record, generation_record), strict=True):
        path.write_text("".join(json.dumps(make(toy)) + "\n" for toy in TOYS))
    return paths


# ----------------------------------------------------------------------------- checks


def test_attempts_fail_and_fixes_pass():
    for toy in TOYS:
        record = reflection_record(toy)
        sequence = record["messages"][1]["content"]
        assert [b["type"] for b in sequence] == ["text", "code", "execution", "text", "code",
                                                 "execution"]
        assert sequence[2]["content"] == "AssertionError", toy.name
        assert sequence[5]["content"] == "ok", toy.name


def test_fixture_parses_in_the_schema(tmp_path):
    from motcoder.training.reflection_serialize import parse_sample

    for path in write_reflection_fixture(tmp_path):
        for line_no, line in enumerate(path.read_text().splitlines(), 1):
            sample = parse_sample(json.loads(line), f"{path}:{line_no}")
            assert sample.kind in path.name
