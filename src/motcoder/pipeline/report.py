"""The Markdown report of a run directory (``report.md``): what was run, the results
table (per difficulty, and per round for multi-round solvers), and a drill-down into a few
problems — prompt, response, extracted code, and the outcome of every judged test.

It reads only the run's files, so it can be rebuilt at any time from them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from motcoder.runs import RunDir
from motcoder.scoring.tables import markdown_lines, rounds_rows, summary_markdown

DRILL_DOWN = 5
CLIP = 1500


def _clip(text: str, limit: int = CLIP) -> str:
    text = text.rstrip()
    return text if len(text) <= limit else text[:limit] + f"\n... [{len(text) - limit} more]"


def _fence(text: str, lang: str = "") -> str:
    fence = "````" if "```" in text else "```"
    return f"{fence}{lang}\n{_clip(text)}\n{fence}"


def _records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _config_lines(config: Mapping[str, Any]) -> list[str]:
    lines = ["| setting | value |", "|---|---|"]
    for key, value in config.items():
        shown = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        lines.append(f"| {key} | `{shown.replace('|', '/')}` |")
    return lines


def _drill_down(samples: list[dict[str, Any]], verdicts: dict[tuple, dict[str, Any]]
                ) -> list[str]:
    # Per problem, its first sample at its last round (the answer a multi-round solver
    # ended with), for the first DRILL_DOWN problems.
    last: dict[str, dict[str, Any]] = {}
    for sample in samples:
        task = sample["task_id"]
        if task not in last and len(last) >= DRILL_DOWN:
            continue
        index, round_ = sample.get("sample_index", 0), sample.get("round", 0)
        best = last.get(task)
        if best is None or (index, -round_) < (best.get("sample_index", 0),
                                              -best.get("round", 0)):
            last[task] = sample
    lines: list[str] = []
    for sample in last.values():
        task = sample["task_id"]
        key = (task, sample.get("sample_index", 0), sample.get("round", 0))
        verdict = verdicts.get(key)
        status = verdict["status"] if verdict else "not judged"
        lines += ["", f"### {task} (sample {key[1]}, round {key[2] + 1}) — {status}", ""]
        messages = sample.get("messages") or []
        prompt = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        if prompt:
            lines += ["**Prompt (last user turn)**", "", _fence(prompt), ""]
        if sample.get("completion") is not None:
            lines += ["**Response**", "", _fence(sample["completion"]), ""]
        lines += ["**Extracted program**", "", _fence(sample.get("code", ""), "python"), ""]
        if verdict:
            lines += ["| test | visibility | status | CPU s | peak MB | message |",
                      "|---:|---|---|---:|---:|---|"]
            for t in verdict["tests"]:
                message = t["message"].replace("\n", " ").replace("|", "/")[:200]
                lines.append(f"| {t['index']} | {t['visibility']} | {t['status']} | "
                             f"{t['cpu_time']:.3f} | {t['peak_memory_mb']:.1f} | {message} |")
    return lines


def write_report(run: RunDir, title: str = "motcoder run") -> Path:
    """Write ``report.md`` from the run directory's files; return its path."""
    config = run.read_config() if run.config_path.exists() else {}
    summary = run.read_json(run.SUMMARY) if run.summary_path.exists() else None
    samples = _records(run.samples_path)
    verdicts = {(v["task_id"], v["sample_index"], v.get("round", 0)): v
                for v in _records(run.results_path)}
    lines = [f"# {title}", "", f"Run directory: `{run.path}`", "", "## Settings", ""]
    lines += _config_lines(config)
    lines += ["", "## Results", ""]
    if summary is None:
        lines.append("No summary yet: the run has not finished (continue it with --resume).")
    else:
        lines.append(summary_markdown(summary).rstrip())
        header, rows = rounds_rows(summary)
        if rows:
            lines += ["", "Accuracy after each round:", ""] + markdown_lines(header, rows)
        if summary.get("isolation"):
            lines += ["", "Sandbox layers: " + "; ".join(
                f"{k}: {v}" for k, v in summary["isolation"].items())]
    if samples:
        lines += ["", f"## A look at {min(DRILL_DOWN, len({s['task_id'] for s in samples}))} "
                  "problems"]
        lines += _drill_down(samples, verdicts)
    path = run.file("report.md")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
