"""Helpers shared by the end-to-end evaluation tests: run the real CLI, write and read files.

`run_cli` invokes ``motcoder.cli.app`` in-process with Typer's `CliRunner` (the command
starts its own real sandbox) and checks that whatever happened, no traceback reached the
user. `verdicts` reads a run's ``results.jsonl`` keyed by ``(task_id, sample_index)`` and
checks that no sample was judged twice.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from motcoder.cli import app


def completion(problem) -> str:
    """A HumanEval problem's canonical solution as a completion of its prompt."""
    return problem.solutions[0][len(problem.statement):]


def motcoder_command() -> list[str]:
    """The `motcoder` command of this environment, for running it as a subprocess."""
    script = Path(sys.executable).with_name("motcoder")
    return [str(script)] if script.exists() else [sys.executable, "-m", "motcoder.cli"]


def run_cli(*args: Any):
    """Run ``motcoder ARGS`` in-process; return the click `Result` (stdout/stderr apart)."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(
            f"motcoder {' '.join(map(str, args))} raised {result.exception!r}\n{result.output}"
        ) from result.exception
    assert "Traceback" not in result.output, result.output
    return result


def evaluate(samples: Path, out: Path, *options: Any, code: int = 0):
    """``motcoder evaluate --samples S --out O --no-progress OPTIONS``, expecting ``code``."""
    result = run_cli("evaluate", "--samples", samples, "--out", out, "--no-progress", *options)
    assert result.exit_code == code, result.output
    return result


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def verdicts(out: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """The run's verdict records by ``(task_id, sample_index)``; a duplicate fails the test."""
    records = read_jsonl(out / "results.jsonl")
    keyed = {(r["task_id"], r["sample_index"]): r for r in records}
    assert len(keyed) == len(records), "results.jsonl holds a sample twice"
    return keyed


def outcome(record: dict[str, Any]) -> tuple[Any, ...]:
    """What a verdict decided, without the measurements: pass, status, per-test statuses."""
    return (record["passed"], record["status"],
            tuple((t["visibility"], t["status"]) for t in record["tests"]))


def summary(out: Path) -> dict[str, Any]:
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def run_tests_measured(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The tests of a verdict that actually ran a program."""
    return [t for t in record["tests"] if t["status"] not in ("not_run", "no_code")]
