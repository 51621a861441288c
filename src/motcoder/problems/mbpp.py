"""MBPP: Mostly Basic Python Problems, as `Problem` objects.

Sources: the hub dataset ``google-research-datasets/mbpp`` (configs ``full`` and
``sanitized``, whose field names differ), or a local file: the original ``mbpp.jsonl`` (all
974 rows; fields ``text``, ``code``, ``task_id``, ``test_setup_code``, ``test_list``,
``challenge_test_list``) or ``sanitized-mbpp.json`` (``prompt``, ``code``, ``task_id``,
``test_imports``, ``test_list``). A local file holds every split; the split of a row is
fixed by its task id as in the MBPP paper: 1-10 prompt, 11-510 test, 511-600 validation,
601-974 train.

Each assert of ``test_list`` is its own ``assert`` test: the first is public and shown in the
statement as the example, the others private; all are judged (the official semantics).
The challenge tests of the full config are kept in ``metadata["challenge_test_list"]``.

MBPP+ (EvalPlus; hub ``evalplus/mbppplus``, split ``test``, or a local file in that schema:
the sanitized fields plus ``test``, a script checking every base and plus input): the
``test`` script is one more private test, judged with the asserts.
"""

from __future__ import annotations

import ast
import builtins
from pathlib import Path
from typing import Any

from motcoder.problems.errors import ProblemLoadError
from motcoder.problems.hub import load_hub_rows
from motcoder.problems.model import Problem, Test
from motcoder.problems.records import read_records

HUB_REPO = "google-research-datasets/mbpp"
PLUS_HUB_REPO = "evalplus/mbppplus"
SPLITS = ("train", "test", "validation", "prompt")
SCHEMA_HINT = (
    "an MBPP file: mbpp.jsonl (fields task_id, text, code, test_list, test_setup_code) "
    "or sanitized-mbpp.json (task_id, prompt, code, test_list, test_imports)"
)
EXAMPLE_HEADER = "Your code should pass this test:"


def split_of(task_id: int) -> str:
    """The MBPP split of a task id: 1-10 prompt, 11-510 test, 511-600 validation, else train."""
    if task_id <= 10:
        return "prompt"
    if task_id <= 510:
        return "test"
    if task_id <= 600:
        return "validation"
    return "train"


def _called_names(source: str) -> list[str]:
    """Names of the plain functions called in ``source``, in order of appearance."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    calls.sort(key=lambda n: (n.lineno, n.col_offset))
    return [n.func.id for n in calls if isinstance(n.func, ast.Name)]


def _defined_functions(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def entry_point_of(test: str, code: str = "") -> str | None:
    """The function the assert ``test`` calls: one defined in ``code`` if any, else the
    first called name that is not a builtin (``assert set(f(x)) == ...`` → ``f``)."""
    names = _called_names(test)
    defined = _defined_functions(code)
    for name in names:
        if name in defined:
            return name
    for name in names:
        if not hasattr(builtins, name):
            return name
    return None


def _text_list(record: dict[str, Any], key: str, where: str) -> list[str]:
    value = record.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProblemLoadError(
            f"{where}: field {key!r} must be a list of strings (asserts), "
            f"got {type(value).__name__}; expected {SCHEMA_HINT}"
        )
    return value


def _text(record: dict[str, Any], key: str, where: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ProblemLoadError(f"{where}: field {key!r} must be text, got {type(value).__name__}")
    return value.replace("\r\n", "\n")


def problem_from_record(
    record: dict[str, Any], where: str = "", split: str | None = None
) -> Problem:
    """One MBPP row (full or sanitized schema) → `Problem`; ``split`` defaults to the id's."""
    task_id = record.get("task_id")
    if not isinstance(task_id, int):
        raise ProblemLoadError(f"{where}: MBPP record has no integer 'task_id'; expected "
                               + SCHEMA_HINT)
    sanitized = "text" not in record and "prompt" in record
    description = _text(record, "prompt" if sanitized else "text", where).strip()
    code = _text(record, "code", where)
    asserts = [t.replace("\r\n", "\n").strip() for t in _text_list(record, "test_list", where)]
    setup_parts = [_text(record, "test_setup_code", where).strip(),
                   "\n".join(_text_list(record, "test_imports", where))]
    tests = [
        Test(kind="assert", visibility="public" if i == 0 else "private", script=script)
        for i, script in enumerate(asserts)
    ]
    plus = _text(record, "test", where)  # MBPP+ (EvalPlus): every base and plus input
    if plus.strip():
        tests.append(Test(kind="assert", visibility="private", script=plus))
    statement = description
    if asserts:
        statement += f"\n{EXAMPLE_HEADER}\n{asserts[0]}\n"
    metadata: dict[str, Any] = {"config": "plus" if plus.strip() else
                                "sanitized" if sanitized else "full"}
    challenge = _text_list(record, "challenge_test_list", where)
    if challenge:
        metadata["challenge_test_list"] = challenge
    return Problem(
        id=f"Mbpp/{task_id}",
        source="mbpp-plus" if plus.strip() else "mbpp",
        statement=statement,
        tests=tests,
        entry_point=entry_point_of(asserts[0], code) if asserts else None,
        split=split or split_of(task_id),
        solutions=[code] if code.strip() else [],
        setup_code="\n".join(p for p in setup_parts if p),
        metadata=metadata,
    )


def load_mbpp(
    path: str | Path | None = None, *, split: str = "test", sanitized: bool = False
) -> list[Problem]:
    """MBPP problems: every row of the local file ``path`` (each with its split by task id),
    else one ``split`` of the hub config ``full`` (or ``sanitized``)."""
    if path is not None:
        return [problem_from_record(r, where) for where, r in read_records(path)]
    config = "sanitized" if sanitized else "full"
    rows = load_hub_rows(HUB_REPO, config=config, split=split, hint=SCHEMA_HINT,
                         what=f"MBPP ({HUB_REPO}, config {config}, split {split})")
    return [problem_from_record(r, f"{HUB_REPO}:{config}/{split}[{i}]", split)
            for i, r in enumerate(rows)]


def load_mbpp_plus(path: str | Path | None = None) -> list[Problem]:
    """MBPP+ problems: every row of the local file ``path``, else the hub's test split. All
    rows are the test split (MBPP+ holds only test problems)."""
    if path is not None:
        return [problem_from_record(r, where, "test") for where, r in read_records(path)]
    rows = load_hub_rows(PLUS_HUB_REPO, split="test", hint=SCHEMA_HINT,
                         what=f"MBPP+ ({PLUS_HUB_REPO}, split test)")
    return [problem_from_record(r, f"{PLUS_HUB_REPO}/test[{i}]", "test")
            for i, r in enumerate(rows)]
