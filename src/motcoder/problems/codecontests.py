"""CodeContests (DeepMind, AlphaCode), as `Problem` objects.

Schema of ``deepmind/code_contests``: ``name``, ``description``, ``public_tests`` /
``private_tests`` / ``generated_tests`` (each ``{"input": [...], "output": [...]}``),
``difficulty`` and ``source`` (class-label integers, or their names), ``solutions`` /
``incorrect_solutions`` (``{"language": [...], "solution": [...]}``), ``time_limit``
(``{"seconds", "nanos"}`` or null), ``memory_limit_bytes``, ``cf_rating``, ``cf_tags``, ...

Sources: the hub (splits train / valid / test) or a local ``.jsonl`` / ``.json`` /
``.parquet`` file in the same schema. All tests are stdin/stdout; public, private and
generated tests keep their own visibility and all are judged. Only Python 3 solutions are
kept as reference solutions.

The hub stores ``difficulty`` as a class label whose indices are contiguous (0
UNKNOWN_DIFFICULTY, 1 EASY, 2 MEDIUM, 3 HARD, 4 HARDER, 5 HARDEST, 6 EXTERNAL, 7 A ... 28 V);
they differ from the numbers of the upstream protobuf enum from L on (which skips 18).
"""

from __future__ import annotations

import math
import string
from pathlib import Path
from typing import Any

from motcoder.problems.errors import ProblemLoadError
from motcoder.problems.hub import load_hub_rows
from motcoder.problems.model import Problem, Test
from motcoder.problems.records import normalise_split, read_records, split_from_filename

HUB_REPO = "deepmind/code_contests"
SPLITS = ("train", "valid", "test")
SCHEMA_HINT = (
    "a CodeContests-schema .jsonl/.json/.parquet file (fields name, description, "
    "public_tests, private_tests, generated_tests, difficulty, solutions, time_limit, "
    "memory_limit_bytes)"
)
DIFFICULTY_NAMES: tuple[str, ...] = (
    "UNKNOWN_DIFFICULTY", "EASY", "MEDIUM", "HARD", "HARDER", "HARDEST", "EXTERNAL",
    *string.ascii_uppercase[:22],  # A .. V
)
LANGUAGE_NAMES: tuple[str, ...] = ("UNKNOWN_LANGUAGE", "PYTHON", "CPP", "PYTHON3", "JAVA")
SOURCE_NAMES: tuple[str, ...] = (
    "UNKNOWN_SOURCE", "CODECHEF", "CODEFORCES", "HACKEREARTH", "CODEJAM", "ATCODER", "AIZU",
)
TEST_GROUPS: tuple[tuple[str, str], ...] = (
    ("public_tests", "public"), ("private_tests", "private"), ("generated_tests", "generated"),
)
_META_KEYS = ("cf_contest_id", "cf_index", "cf_points", "cf_rating", "cf_tags",
              "input_file", "output_file")


def enum_name(value: Any, names: tuple[str, ...], field: str, where: str = "") -> str:
    """The name of a class-label value given as its index or its name."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
        return names[value]
    if isinstance(value, str) and value.upper() in names:
        return value.upper()
    if value is None:
        return names[0]
    raise ProblemLoadError(
        f"{where}: field {field!r} has unknown value {value!r}; expected an index 0-"
        f"{len(names) - 1} or one of {', '.join(names)}"
    )


def difficulty_name(value: Any, where: str = "") -> str:
    """``3`` or ``"HARD"`` → ``"HARD"``; ``7`` → ``"A"``."""
    return enum_name(value, DIFFICULTY_NAMES, "difficulty", where)


def time_limit_seconds(value: Any, where: str = "") -> float | None:
    """``{"seconds": 2, "nanos": 500000000}`` → 2.5; null or zero → None."""
    if value is None:
        return None
    if isinstance(value, dict):
        seconds = (value.get("seconds") or 0) + (value.get("nanos") or 0) / 1e9
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ProblemLoadError(
            f"{where}: field 'time_limit' must be {{seconds, nanos}} or null, got {value!r}"
        )
    return seconds if seconds > 0 else None


def memory_limit_mb(value: Any, where: str = "") -> int | None:
    """Bytes → megabytes: 256000000 (Codeforces' 256 MB as stored) and 268435456 → 256."""
    if value is None or value == 0:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProblemLoadError(f"{where}: field 'memory_limit_bytes' must be a byte count")
    if value % (1 << 20) == 0:
        return value >> 20
    return math.ceil(value / 1_000_000)


def _group(record: dict[str, Any], key: str, where: str) -> tuple[list[Any], list[Any]]:
    group = record.get(key)
    if group is None:
        return [], []
    first, second = ("language", "solution") if "solution" in key else ("input", "output")
    if not isinstance(group, dict) or not all(
        isinstance(group.get(k) or [], list) for k in (first, second)
    ):
        raise ProblemLoadError(
            f"{where}: field {key!r} must be {{{first!r}: [...], {second!r}: [...]}}"
        )
    left, right = group.get(first) or [], group.get(second) or []
    if len(left) != len(right):
        raise ProblemLoadError(
            f"{where}: field {key!r} has {len(left)} {first}s but {len(right)} {second}s"
        )
    return left, right


def _tests(record: dict[str, Any], where: str) -> list[Test]:
    tests = []
    for key, visibility in TEST_GROUPS:
        inputs, outputs = _group(record, key, where)
        for given, wanted in zip(inputs, outputs, strict=True):
            if not isinstance(given, str) or not isinstance(wanted, str):
                raise ProblemLoadError(f"{where}: field {key!r} must hold text inputs/outputs")
            tests.append(Test(kind="stdio", visibility=visibility, input=given, output=wanted))
    return tests


def python3_solutions(record: dict[str, Any], where: str = "", key: str = "solutions") -> list[str]:
    """The Python 3 programs of a ``solutions`` (or ``incorrect_solutions``) group."""
    languages, programs = _group(record, key, where)
    return [
        program for language, program in zip(languages, programs, strict=True)
        if enum_name(language, LANGUAGE_NAMES, f"{key}.language", where) == "PYTHON3"
    ]


def problem_from_record(record: dict[str, Any], where: str = "", split: str = "test") -> Problem:
    """One CodeContests row → `Problem` (id = its ``name``)."""
    name, description = record.get("name"), record.get("description")
    if not isinstance(name, str) or not name or not isinstance(description, str):
        raise ProblemLoadError(
            f"{where}: CodeContests record needs a text 'name' and 'description'; expected "
            + SCHEMA_HINT
        )
    metadata: dict[str, Any] = {
        k: record[k] for k in _META_KEYS if record.get(k) not in (None, "", [], 0, 0.0)
    }
    metadata["site"] = enum_name(record.get("source"), SOURCE_NAMES, "source", where)
    return Problem(
        id=name,
        source="codecontests",
        statement=description,
        tests=_tests(record, where),
        difficulty=difficulty_name(record.get("difficulty"), where),
        split=record.get("split") or split,
        time_limit=time_limit_seconds(record.get("time_limit"), where),
        memory_limit_mb=memory_limit_mb(record.get("memory_limit_bytes"), where),
        solutions=python3_solutions(record, where),
        metadata=metadata,
    )


def load_codecontests(
    path: str | Path | None = None, *, split: str | None = None
) -> list[Problem]:
    """CodeContests problems from a local file (split: the record's, else ``split``, else
    the file name's, else test) or, without ``path``, one hub split (default test)."""
    if path is None:
        split = normalise_split(split or "test", SPLITS)
        if split not in SPLITS:
            raise ProblemLoadError(f"CodeContests has splits {SPLITS}, not {split!r}")
        rows = load_hub_rows(HUB_REPO, split=split, hint=SCHEMA_HINT,
                             what=f"CodeContests ({HUB_REPO}, split {split})")
        return [problem_from_record(r, f"{HUB_REPO}/{split}[{i}]", split)
                for i, r in enumerate(rows)]
    label = normalise_split(split or split_from_filename(path) or "test", SPLITS)
    return [problem_from_record(r, where, label) for where, r in read_records(path)]
