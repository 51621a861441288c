"""``report.html``: the report of one or several runs as one self-contained HTML file, and
`write_reports`, which writes it together with ``report.md``.

The page holds everything it shows: a little inline CSS, the plots as embedded PNG images
(``data:image/png;base64,...``), no script and no external address. Sections: runs; results
per run (pass@k, strict accuracy and test pass rate per difficulty and overall, accuracy
after each round or turn, the sandbox's isolation layers); for several runs, pass@k side by
side with each run's difference from the first; plots (`motcoder.analysis.report_plots` and
`motcoder.analysis.plots`); the analysis tables (`motcoder.analysis.tables`); settings; and a
collapsible drill-down into every problem of every run — prompt (last user turn), response,
extracted program and the outcome of every judged test.

Model output is untrusted text: everything taken from the run files is escaped with
`html.escape` (a ``<script>`` in a completion shows as text), and long texts are clipped.
"""

from __future__ import annotations

import base64
import html
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from motcoder.analysis.analyze import EMPTY, REPORT_ERRORS, analysis_markdown, analyze_runs
from motcoder.analysis.loading import RunData, load_runs
from motcoder.analysis.plots import analysis_figures
from motcoder.analysis.report_content import (
    NOT_JUDGED,
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
from motcoder.analysis.report_md import (
    isolation_rows,
    render_markdown,
    runs_rows,
    turn_rows,
)
from motcoder.analysis.report_plots import results_chart
from motcoder.analysis.tables import SECTIONS as ANALYSIS_SECTIONS
from motcoder.analysis.tables import analysis_tables
from motcoder.runs import atomic_writer
from motcoder.sandbox.verdict import NOT_RUN, PASSED
from motcoder.scoring.tables import rounds_rows, summary_rows

TEXT_CLIP = 6000      # characters of a prompt, response or program
MESSAGE_CLIP = 300    # characters of a test's message
TEST_ROWS = 100       # tests listed per attempt
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 78rem;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.4; }
nav a { margin-right: 0.8rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
caption { text-align: left; font-weight: 600; padding: 0.2rem 0; white-space: nowrap; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 0.5rem; overflow-x: auto;
      white-space: pre-wrap; word-break: break-word; font-size: 0.85rem; }
figure { display: inline-block; margin: 0.5rem 1rem 1rem 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85rem; color: #555; }
details { margin: 0.3rem 0; }
details.problem { border: 1px solid #ddd; border-radius: 4px; padding: 0.3rem 0.6rem; }
summary { cursor: pointer; }
.status { font-weight: 600; }
.passed { color: #17702f; }
.failed { color: #b3261e; }
.pending { color: #8a6d00; }
.unfinished { background: #fff4d6; border: 1px solid #e5c35c; padding: 0.5rem; }
.notes { font-size: 0.85rem; color: #444; }
"""

# Captions (and alt texts) of the figures of `motcoder.analysis.plots.analysis_figures`.
FIGURE_CAPTIONS = {
    "modularity": "Accuracy by number of functions in the solution, per difficulty",
    "resources": "Mean CPU time and peak memory of the problems passed by both compared runs",
    "maintainability": "Mean maintainability index (radon) of passing solutions",
    "rounds": "Accuracy after each round or turn",
}

SECTIONS = (("runs", "Runs"), ("results", "Results"), ("comparison", "Comparison"),
            ("plots", "Plots"), ("analysis", "Analysis"), ("settings", "Settings"),
            ("problems", "Problems"))


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _is_number(cell: str) -> bool:
    return bool(re.fullmatch(r"[+-]?\d+(\.\d+)?( \(\d+\))?|n/a", cell.strip()))


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]],
               caption: str | None = None, css_class: str = "") -> str:
    """A table of strings; cells that are numbers are right-aligned."""
    parts = [f'<table class="{_e(css_class)}">' if css_class else "<table>"]
    if caption:
        parts.append(f"<caption>{_e(caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header)
                 + "</tr></thead><tbody>")
    for row in rows:
        parts.append("<tr>" + "".join(
            f'<td class="num">{_e(c)}</td>' if i and _is_number(str(c)) else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def png_figure(png: bytes, caption: str) -> str:
    """An embedded PNG with its caption as alt text and figure caption."""
    if not png.startswith(PNG_MAGIC):
        raise ValueError(f"the figure {caption!r} is not a PNG image")
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _status_class(status: str) -> str:
    if status == PASSED:
        return "passed"
    return "pending" if status in (NOT_JUDGED, NOT_RUN) else "failed"


def _status(status: str) -> str:
    return f'<span class="status {_status_class(status)}">{_e(status)}</span>'


# ----------------------------------------------------------------------------- sections
def _runs(runs: Sequence[RunData]) -> str:
    return html_table(*runs_rows(runs), caption="Runs reported", css_class="runs")


def _results(run: RunData) -> str:
    if run.summary is None:
        return f'<p class="unfinished">{_e(unfinished_message(run.path, run.config))}</p>'
    summary = run.summary
    parts = [html_table(*summary_rows(summary), caption="pass@k, strict accuracy and "
                        "test pass rate per difficulty (%)", css_class="results")]
    notes = summary.get("notes") or []
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in notes)
                     + "</ul>")
    for header_rows, caption in ((rounds_rows(summary), "Accuracy after each round"),
                                 (turn_rows(summary), "Accuracy after each turn (mean over "
                                  "searches)"),
                                 (isolation_rows(summary), "Sandbox isolation layers")):
        if header_rows[1]:
            parts.append(html_table(*header_rows, caption=caption))
    return "".join(parts)


def _definitions(runs: Sequence[RunData]) -> str:
    definitions: dict[str, str] = {}
    for run in runs:
        definitions.update((run.summary or {}).get("definitions") or {})
    if not definitions:
        return ""
    return ('<details class="definitions"><summary>What the numbers mean</summary><dl>'
            + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in definitions.items())
            + "</dl></details>")


def _comparison(runs: Sequence[RunData]) -> str:
    finished = {run.label: run.summary for run in runs if run.summary is not None}
    if len(finished) < 2:
        return ""
    first = next(iter(finished))
    parts = []
    for k in common_ks(list(finished.values())):
        parts.append(html_table(*comparison(finished, k), caption=f"pass@{k} %",
                                css_class="comparison"))
        parts.append(html_table(*delta_rows(finished, k), caption=f"pass@{k}: difference "
                                f"from {first} (percentage points)", css_class="deltas"))
    notes = comparison_notes(finished)
    left_out = [run.label for run in runs if run.summary is None]
    if left_out:
        notes.append(f"not compared (not finished): {', '.join(left_out)}")
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in notes)
                     + "</ul>")
    return "".join(parts)


def _figure_caption(name: str) -> str:
    return FIGURE_CAPTIONS.get(name) or name.replace("_", " ").replace("-", " ").capitalize()


def _plots(results_png: bytes | None, figures: Mapping[str, bytes], k: int | None) -> str:
    parts = []
    if results_png is not None:
        parts.append(png_figure(results_png, f"Results: pass@{k} per difficulty and run"))
    parts += [png_figure(png, _figure_caption(name)) for name, png in figures.items()]
    return "".join(parts) or "<p>No plots: no run has verdicts yet.</p>"


def _analysis(analysis: Mapping[str, Any] | None) -> str:
    if analysis is None:
        return "<p>No analysis: no run has verdicts yet.</p>"
    tables = analysis_tables(dict(analysis))
    parts = []
    for section, heading in ANALYSIS_SECTIONS.items():
        mine = [t for t in tables if t.section == section]
        if not mine and section not in EMPTY:
            continue
        parts.append(f"<h3>{_e(heading)}</h3>")
        if not mine:
            parts.append(f"<p>{_e(EMPTY[section])}</p>")
        for table in mine:
            parts.append(html_table(table.header, table.rows, caption=table.title,
                                    css_class=f"analysis {section}"))
            if table.notes:
                parts.append('<ul class="notes">'
                             + "".join(f"<li>{_e(n)}</li>" for n in table.notes) + "</ul>")
    return "".join(parts)


def _settings(runs: Sequence[RunData]) -> str:
    parts = []
    for run in runs:
        table = html_table(*settings_rows(run.config), caption=f"Settings of {run.label}")
        parts.append(f"<details{' open' if len(runs) == 1 else ''}><summary>{_e(run.label)}"
                     f"</summary>{table}</details>")
    return "".join(parts)


def _pre(text: str, css_class: str = "") -> str:
    cls = f' class="{css_class}"' if css_class else ""
    return f"<pre{cls}>{_e(clip(text, TEXT_CLIP))}</pre>"


def _attempt(label: str, view: ProblemView) -> str:
    task, index, round_ = view.key
    parts = [f'<div class="attempt"><h4>{_e(label)}: sample {index}, round {round_ + 1} — '
             f"{_status(view.status)}</h4>"]
    facts = []
    if len(view.rounds) > 1:
        facts.append("rounds: " + ", ".join(f"{r + 1} {_status(s)}" for r, s in view.rounds))
    if view.samples > 1:
        facts.append(f"samples passed: {view.passed_samples} of {view.samples}")
    if view.verdict and view.verdict.get("reason"):
        facts.append(f"reason: {_e(clip(str(view.verdict['reason']), MESSAGE_CLIP))}")
    if facts:
        parts.append("<p>" + "; ".join(facts) + "</p>")
    if view.prompt:
        parts.append("<details class=\"prompt\"><summary>Prompt (last user turn)</summary>"
                     + _pre(view.prompt) + "</details>")
    if view.response is not None:
        parts.append("<h5>Response</h5>" + _pre(view.response, "response"))
    parts.append("<h5>Extracted program</h5>" + _pre(view.code or "(no program)", "code"))
    tests = (view.verdict or {}).get("tests") or []
    if tests:
        rows = [[str(t.get("index", i)), str(t.get("status", "")),
                 str(t.get("visibility", "")), f"{float(t.get('cpu_time') or 0.0):.3f}",
                 f"{float(t.get('peak_memory_mb') or 0.0):.1f}",
                 clip(str(t.get("message") or ""), MESSAGE_CLIP)]
                for i, t in enumerate(tests[:TEST_ROWS])]
        more = f" (first {TEST_ROWS} of {len(tests)})" if len(tests) > TEST_ROWS else ""
        parts.append(html_table(["test", "status", "visibility", "CPU s", "peak MB",
                                 "message"], rows, caption=f"Judged tests{more}",
                                css_class="tests"))
    elif view.verdict is None:
        parts.append("<p>Not judged yet.</p>")
    parts.append("</div>")
    return "".join(parts)


def _problems(runs: Sequence[RunData]) -> str:
    views = {run.label: {v.task_id: v for v in problem_views(run.samples, run.verdicts,
                                                             trust_in_child=run.trust_in_child)}
             for run in runs}
    tasks = list(dict.fromkeys(t for by_task in views.values() for t in by_task))
    if not tasks:
        return "<p>No samples yet.</p>"
    parts = [f"<p>{len(tasks)} problem(s). Each shows the answer it ended with: its first "
             "sample at its last round. Click a problem to open it.</p>"]
    for number, task in enumerate(tasks, start=1):
        mine = [(label, by_task[task]) for label, by_task in views.items() if task in by_task]
        difficulty = next((v.difficulty for _, v in mine if v.difficulty), None)
        head = f"<code>{_e(task)}</code>" + (f" ({_e(difficulty)})" if difficulty else "")
        head += " — " + " · ".join(
            (f"{_e(label)}: " if len(runs) > 1 else "") + _status(v.status) for label, v in mine)
        parts.append(f'<details class="problem" id="problem-{number}"><summary>{head}'
                     "</summary>" + "".join(_attempt(label, v) for label, v in mine)
                     + "</details>")
    return "".join(parts)


def render_html(runs: Sequence[RunData], analysis: Mapping[str, Any] | None,
                figures: Mapping[str, bytes], title: str) -> str:
    """The whole ``report.html``."""
    finished = {run.label: run.summary for run in runs if run.summary is not None}
    ks = common_ks(list(finished.values()))
    k = ks[0] if ks else None
    chart = results_chart(finished, k) if k is not None else None
    body = {
        "runs": _runs(runs),
        "results": "".join((f"<h3>{_e(run.label)}</h3>" if len(runs) > 1 else "")
                           + _results(run) for run in runs) + _definitions(runs),
        "comparison": _comparison(runs),
        "plots": _plots(chart, figures, k),
        "analysis": _analysis(analysis),
        "settings": _settings(runs),
        "problems": _problems(runs),
    }
    shown = [(key, name) for key, name in SECTIONS if body[key]]
    nav = " ".join(f'<a href="#{key}">{name}</a>' for key, name in shown)
    sections = "".join(f'<section id="{key}"><h2>{name}</h2>{body[key]}</section>'
                       for key, name in shown)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{_e(title)}</h1><nav>{nav}</nav></header>{sections}"
            "</body></html>\n")


# ----------------------------------------------------------------------------- writing


def _demote(lines: Sequence[str]) -> list[str]:
    return ["#" + line if line.startswith("#") else line for line in lines]


def write_reports(run_paths: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str],
                  labels: Sequence[str] | None = None, title: str = "motcoder report"
                  ) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` on the runs at ``run_paths`` into the
    directory ``out``; return their paths. ``labels``: one per run (default: from each
    run's settings). Runs without verdicts are reported as such and left out of the
    analysis; runs without a summary are left out of the comparison."""
    runs = load_runs(run_paths, labels, judged_only=False)
    judged = [run for run in runs if run.verdicts]
    analysis = analyze_runs(judged) if judged else None
    figures = analysis_figures(analysis) if analysis else {}
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    html_path, md_path = target / "report.html", target / "report.md"
    with atomic_writer(md_path, errors=REPORT_ERRORS) as fh:
        fh.write(render_markdown(
            runs, _demote(analysis_markdown(analysis)) if analysis else [], title))
    with atomic_writer(html_path, errors=REPORT_ERRORS) as fh:
        fh.write(render_html(runs, analysis, figures, title))
    return html_path, md_path
