"""``report.md``: the report of one or several runs as Markdown, readable as plain text.

Sections, in order: the runs (directory, status, model, benchmark, solver); the results of
each run (pass@k, strict accuracy and test pass rate per difficulty and overall, the
accuracy after each round or turn, the sandbox's isolation layers); for several runs, pass@k
side by side with each run's difference from the first; the analyses
(`motcoder.analysis.analyze.analysis_markdown`); the settings of each run; and a drill-down
into the first `DRILL_DOWN` problems of each run — prompt, response, extracted program and
the outcome of every judged test. The plots and the drill-down into every problem are in
``report.html`` (`motcoder.analysis.report_html`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from motcoder.analysis.loading import RunData
from motcoder.analysis.report_content import (
    ProblemView,
    clip,
    common_ks,
    comparison,
    comparison_notes,
    delta_rows,
    problem_views,
    settings_rows,
    unfinished_message,
)
from motcoder.scoring.tables import markdown_lines, rounds_rows, summary_markdown

DRILL_DOWN = 5
CLIP = 1500


def _cell(text: str) -> str:
    return text.replace("\n", " ").replace("|", "/")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return markdown_lines([_cell(h) for h in header], [[_cell(c) for c in row] for row in rows])


def _longest_run(text: str, char: str = "`") -> int:
    return max((len(run) for run in re.findall(f"{re.escape(char)}+", text)), default=0)


def _fence(text: str, lang: str = "") -> str:
    """A fenced block longer than any backtick run inside (so the text cannot close it)."""
    text = clip(text, CLIP)
    fence = "`" * max(3, _longest_run(text) + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def _code_span(text: str) -> str:
    """Untrusted text in a table cell, as a code span (Markdown viewers show it as is)."""
    text = _cell(text)
    if not text.strip():
        return ""
    ticks = "`" * (_longest_run(text) + 1)
    return f"{ticks} {text} {ticks}"


def run_status(run: RunData) -> str:
    return "finished" if run.summary is not None else "not finished"


def runs_rows(runs: Sequence[RunData]) -> tuple[list[str], list[list[str]]]:
    """One row per run: what it is and whether it finished."""
    header = ["run", "directory", "status", "model", "benchmark", "solver", "style"]
    rows = [[run.label, str(run.path), run_status(run), run.model or "", run.benchmark or "",
             run.solver or "", run.style or ""] for run in runs]
    return header, rows


def isolation_rows(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The sandbox's isolation layers of the run (empty when none were recorded)."""
    layers = summary.get("isolation") or {}
    return ["layer", "state"], [[str(k), str(v)] for k, v in layers.items()]


def turn_rows(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Best-of-N runs: accuracy (mean and spread over searches) after each turn."""
    from motcoder.scoring.tables import format_percent

    found = summary.get("searches") or {}
    turns = found.get("turns") or {}
    rows = [[str(turn), format_percent(value.get("mean")), format_percent(value.get("std"))]
            for turn, value in turns.items()]
    return ["after turn", "accuracy %", "std %"], rows


def _results(run: RunData) -> list[str]:
    if run.summary is None:
        return [unfinished_message(run.path, run.config)]
    lines = [summary_markdown(run.summary).rstrip()]
    header, rows = rounds_rows(run.summary)
    if rows:
        lines += ["", "Accuracy after each round:", ""] + _table(header, rows)
    header, rows = turn_rows(run.summary)
    if rows:
        lines += ["", "Accuracy after each turn (mean over searches):", ""]
        lines += _table(header, rows)
    header, rows = isolation_rows(run.summary)
    if rows:
        lines += ["", "Sandbox isolation layers:", ""] + _table(header, rows)
    return lines


def comparison_lines(runs: Sequence[RunData]) -> list[str]:
    """pass@k of the finished runs side by side, and their differences from the first."""
    finished = {run.label: run.summary for run in runs if run.summary is not None}
    if len(finished) < 2:
        return []
    first = next(iter(finished))
    lines = ["## Comparison", ""]
    for k in common_ks(list(finished.values())):
        lines += [f"### pass@{k} %", ""] + _table(*comparison(finished, k)) + [""]
        lines += [f"Difference from {first} (percentage points):", ""]
        lines += _table(*delta_rows(finished, k)) + [""]
    lines += [f"* {note}" for note in comparison_notes(finished)]
    left_out = [run.label for run in runs if run.summary is None]
    if left_out:
        lines += [f"* not compared (not finished): {', '.join(left_out)}"]
    return lines + [""]


def _view(view: ProblemView, label: str | None) -> list[str]:
    task, index, round_ = view.key
    name = f"{label} — {task}" if label else task
    lines = ["", f"### {name} (sample {index}, round {round_ + 1}) — {view.status}", ""]
    if len(view.rounds) > 1:
        lines += ["Rounds: " + ", ".join(f"{r + 1}: {s}" for r, s in view.rounds), ""]
    if view.samples > 1:
        lines += [f"Samples passed: {view.passed_samples} of {view.samples}", ""]
    if view.prompt:
        lines += ["**Prompt (last user turn)**", "", _fence(view.prompt), ""]
    if view.response is not None:
        lines += ["**Response**", "", _fence(view.response), ""]
    lines += ["**Extracted program**", "", _fence(view.code, "python"), ""]
    if view.verdict:
        lines += ["| test | visibility | status | CPU s | peak MB | message |",
                  "|---:|---|---|---:|---:|---|"]
        for t in view.verdict.get("tests", []):
            lines.append(f"| {t['index']} | {t['visibility']} | {t['status']} | "
                         f"{t.get('cpu_time', 0.0):.3f} | {t.get('peak_memory_mb', 0.0):.1f} | "
                         f"{_code_span(str(t.get('message', ''))[:200])} |")
    return lines


def render_markdown(runs: Sequence[RunData], analysis_lines: Sequence[str], title: str) -> str:
    """The whole ``report.md``; ``analysis_lines`` from `analysis_markdown` (may be empty)."""
    several = len(runs) > 1
    lines = [f"# {title}", "", "## Runs", ""] + _table(*runs_rows(runs))
    lines += ["", "## Results", ""]
    for run in runs:
        if several:
            lines += [f"### {run.label}", ""]
        lines += _results(run) + [""]
    lines += comparison_lines(runs)
    if analysis_lines:
        lines += ["## Analysis", "", *analysis_lines, ""]
    lines += ["## Settings", ""]
    for run in runs:
        if several:
            lines += [f"### {run.label}", ""]
        lines += _table(*settings_rows(run.config)) + [""]
    views = [(run, problem_views(run.samples, run.verdicts, limit=DRILL_DOWN,
                                 trust_in_child=run.trust_in_child)) for run in runs]
    shown = max((len(v) for _, v in views), default=0)
    if shown:
        lines += [f"## A look at {shown} problem{'s' if shown > 1 else ''}",
                  "", "Every problem, with plots, is in report.html."]
        for run, run_views in views:
            for view in run_views:
                lines += _view(view, run.label if several else None)
    return "\n".join(lines).rstrip() + "\n"
