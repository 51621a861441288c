"""APPS, as `Problem` objects (also the format our CodeContests converter writes).

Schema of ``codeparrot/apps``: ``problem_id``, ``question``, ``solutions`` (a JSON string: a
list of programs), ``input_output`` (a JSON string: ``inputs``, ``outputs`` and, for
call-based problems, ``fn_name``), ``difficulty`` (introductory / interview / competition),
``url``, ``starter_code``. The hub repository holds a loading script that recent
``datasets`` versions refuse, so its raw ``train.jsonl`` / ``test.jsonl`` are downloaded and
read like local files.

Tests: with ``fn_name`` they are ``call`` tests (``args`` = ``inputs[i]``, ``expected`` =
``outputs[i]``), else ``stdio`` tests (a list of lines is joined with newlines). Call-based
problems carry ``metadata["call_semantics"] = "apps"``: as in the APPS evaluator, a return
value also passes when it equals ``expected[0]`` of a one-element-wrapped list (the data
usually wraps outputs so), and tuples compare as lists; ``metadata["entry_class"]`` is
``"Solution"`` when the starter code is a LeetCode-style class.
Public tests are those whose input appears in the statement (whitespace-normalised), else
the first test; the rest are private; all are judged.

Optional keys written by our converter are honoured: ``input_output["visibility"]`` (one of
public/private/generated per test), ``time_limit`` (seconds), ``memory_limit_mb``,
``source``, ``name`` (kept as the problem id) and ``split``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from motcoder.problems.errors import ProblemLoadError
from motcoder.problems.hub import download_hub_file
from motcoder.problems.model import VISIBILITIES, Problem, Test
from motcoder.problems.records import normalise_split, read_records, split_from_filename

HUB_REPO = "codeparrot/apps"
SPLITS = ("train", "test")
DIFFICULTIES = ("introductory", "interview", "competition")
SCHEMA_HINT = (
    "an APPS-schema JSONL file (fields problem_id, question, solutions, input_output, "
    "difficulty, url, starter_code)"
)


def _json_field(record: dict[str, Any], key: str, where: str, kind: type) -> Any:
    """A field holding JSON text (or the already-decoded value); empty → None."""
    value = record.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ProblemLoadError(
                f"{where}: field {key!r} is not valid JSON ({exc.msg} at column {exc.colno}); "
                f"it must be a JSON-encoded {kind.__name__} as in {SCHEMA_HINT}"
            ) from exc
    if not isinstance(value, kind):
        raise ProblemLoadError(
            f"{where}: field {key!r} must hold a JSON {kind.__name__}, got {type(value).__name__}"
        )
    return value


def _as_text(value: Any, where: str, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    raise ProblemLoadError(
        f"{where}: input_output {what} must be text or a list of lines, got {type(value).__name__}"
    )


def _normalise(text: str) -> str:
    """Whitespace runs → one space; none left next to punctuation (``[1, 2]`` → ``[1,2]``)."""
    return re.sub(r"\s*([^\w\s.])\s*", r"\1", " ".join(text.split()))


def _appears(needle: str, haystack: str) -> bool:
    """Whether ``needle`` occurs in ``haystack`` as a whole (``5`` is not found in ``15``)."""
    if not needle:
        return False
    before = r"(?<![\w.])" if re.match(r"[\w.]", needle[0]) else ""
    after = r"(?![\w.])" if re.match(r"[\w.]", needle[-1]) else ""
    return re.search(before + re.escape(needle) + after, haystack) is not None


def _in_statement(test: Test, statement: str) -> bool:
    """Whether the test's input (stdio) or all its arguments (call) appear in the statement."""
    text = _normalise(statement)
    if test.kind == "stdio":
        return _appears(_normalise(test.input), text)
    return bool(test.args) and all(
        any(_appears(_normalise(form), text) for form in (json.dumps(arg), repr(arg)))
        for arg in test.args
    )


def _visibilities(io: dict[str, Any], count: int, where: str) -> list[str] | None:
    marks = io.get("visibility")
    if marks is None:
        return None
    if not isinstance(marks, list) or len(marks) != count or any(
        m not in VISIBILITIES for m in marks
    ):
        raise ProblemLoadError(
            f"{where}: input_output 'visibility' must list one of {VISIBILITIES} for each of "
            f"the {count} tests"
        )
    return marks


def _tests(io: dict[str, Any], statement: str, where: str) -> list[Test]:
    """The tests of ``input_output`` (inputs without an output, or the reverse, are left out;
    the caller records how many)."""
    inputs, outputs = io.get("inputs") or [], io.get("outputs") or []
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise ProblemLoadError(f"{where}: input_output 'inputs' and 'outputs' must be lists")
    tests = []
    for given, wanted in zip(inputs, outputs, strict=False):  # unpaired ones: see caller
        if io.get("fn_name"):
            args = given if isinstance(given, list) else [given]
            tests.append(Test(kind="call", args=args, expected=wanted))
        else:
            tests.append(Test(kind="stdio", input=_as_text(given, where, "input"),
                              output=_as_text(wanted, where, "output")))
    marks = _visibilities(io, len(tests), where)
    if marks is None:
        shown = [_in_statement(t, statement) for t in tests]
        if tests and not any(shown):
            shown[0] = True
        marks = ["public" if s else "private" for s in shown]
    for test, mark in zip(tests, marks, strict=True):
        test.visibility = mark  # type: ignore[assignment]
    return tests


def _number(record: dict[str, Any], key: str, where: str) -> float | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ProblemLoadError(f"{where}: field {key!r} must be a positive number")
    return float(value)


def _metadata(record: dict[str, Any], io: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"problem_id": record["problem_id"]}
    if record.get("url"):
        metadata["url"] = record["url"]
    unpaired = abs(len(io.get("inputs") or []) - len(io.get("outputs") or []))
    if unpaired:
        metadata["unpaired_tests_dropped"] = unpaired
    if io.get("fn_name"):
        metadata["call_semantics"] = "apps"
        if "class Solution" in (record.get("starter_code") or ""):
            metadata["entry_class"] = "Solution"
    return metadata


def problem_from_record(record: dict[str, Any], where: str = "", split: str = "test") -> Problem:
    """One APPS row → `Problem`; ``split`` applies unless the record has its own ``split``."""
    problem_id = record.get("problem_id")
    question = record.get("question")
    if problem_id is None or not isinstance(question, str):
        raise ProblemLoadError(
            f"{where}: APPS record needs 'problem_id' and a text 'question'; expected "
            + SCHEMA_HINT
        )
    split = record.get("split") or split
    io = _json_field(record, "input_output", where, dict) or {}
    solutions = _json_field(record, "solutions", where, list) or []
    tests = _tests(io, question, where)
    memory = _number(record, "memory_limit_mb", where)
    return Problem(
        id=record.get("name") or f"APPS/{split}/{problem_id}",
        source=record.get("source") or "apps",
        statement=question,
        tests=tests,
        starter_code=record.get("starter_code") or "",
        entry_point=io.get("fn_name") or None,
        difficulty=record.get("difficulty") or None,
        split=split,
        time_limit=_number(record, "time_limit", where),
        memory_limit_mb=int(memory) if memory is not None else None,
        solutions=[s for s in solutions if isinstance(s, str)],
        metadata=_metadata(record, io),
    )


def load_apps(path: str | Path | None = None, *, split: str | None = None) -> list[Problem]:
    """APPS problems from a local file (split: the record's, else ``split``, else the file
    name's, else test) or, without ``path``, the hub file ``{split}.jsonl`` (default test)."""
    if path is None:
        split = normalise_split(split or "test", SPLITS)
        if split not in SPLITS:
            raise ProblemLoadError(f"APPS has splits {SPLITS}, not {split!r}")
        path = download_hub_file(HUB_REPO, f"{split}.jsonl", hint=SCHEMA_HINT,
                                 what=f"APPS ({HUB_REPO}, {split}.jsonl)")
    label = normalise_split(split or split_from_filename(path) or "test", SPLITS)
    return [problem_from_record(r, where, label) for where, r in read_records(path)]
