"""The runs of a report: `motcoder.analysis.loading.load_run` for every judged run, and a
run that stopped before anything was judged (``config.json`` and maybe ``samples.jsonl``,
no ``results.jsonl``) read as far as it got, so that it still gets a report saying so.

Labels are one per run or none (then `motcoder.analysis.loading.default_label`), made
unique by `motcoder.analysis.loading.unique_labels`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from motcoder.analysis.loading import (
    AnalysisError,
    RunData,
    default_label,
    load_run,
    unique_labels,
)
from motcoder.runs import RunDir, RunDirError, read_json, read_jsonl


def _judged(path: Path) -> bool:
    results = path / RunDir.RESULTS
    return results.is_file() and results.stat().st_size > 0


def _started(path: Path, label: str | None) -> RunData:
    """A run with settings but no verdicts yet: its config and the samples written so far."""
    config = read_json(path / RunDir.CONFIG)
    if not isinstance(config, dict):
        raise RunDirError(f"{path / RunDir.CONFIG}: expected a JSON object, got "
                          f"{type(config).__name__} — this is not a motcoder run directory")
    samples = {}
    if (path / RunDir.SAMPLES).is_file():
        for record in read_jsonl(path / RunDir.SAMPLES):
            if isinstance(record, dict) and isinstance(record.get("task_id"), str):
                key = (record["task_id"], int(record.get("sample_index", 0)),
                       int(record.get("round", 0)))
                samples.setdefault(key, record)
    return RunData(label=label or default_label(config, path), path=path, config=config,
                   summary=None, samples=samples, verdicts={}, difficulties={})


def read_report_runs(paths: Sequence[str | os.PathLike[str]],
                     labels: Sequence[str] | None = None) -> list[RunData]:
    """The runs at ``paths`` with unique labels. Raises `AnalysisError` for labels that do
    not match the runs, `RunDirError` / `JsonlError` for a directory that is not a run."""
    if not paths:
        raise AnalysisError("give at least one run directory to report on")
    if labels and len(labels) != len(paths):
        raise AnalysisError(f"give one label per run: {len(labels)} label(s) for "
                            f"{len(paths)} run(s)")
    if labels and len(set(labels)) != len(labels):
        raise AnalysisError(f"labels must differ from one another, got {list(labels)}")
    runs = []
    for i, raw in enumerate(paths):
        path, label = Path(raw), labels[i] if labels else None
        if path.is_dir() and not _judged(path) and (path / RunDir.CONFIG).is_file():
            runs.append(_started(path, label))
        else:
            runs.append(load_run(path, label))
    return unique_labels(runs)
