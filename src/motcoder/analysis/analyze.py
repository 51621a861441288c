"""The whole analysis of one or more runs as one JSON-safe dict (`analyze_runs`), and its
Markdown (`analysis_markdown`); `write_analysis` puts both and the figures in a directory.

Keys of the analysis:

* ``runs`` — per run: label, path, model, benchmark, solver, style, problems, solutions
  (final attempts), passed;
* ``modularity`` — ``{label: rows}`` (`motcoder.analysis.modularity`);
* ``resources`` — the comparison of two runs (`motcoder.analysis.resources`), ``None`` with
  fewer than two runs; ``pair`` picks the two labels (default: the first two runs);
* ``maintainability`` — ``{label: rows}`` (`motcoder.analysis.maintainability`);
* ``rounds`` — ``{label: rows}`` (`motcoder.analysis.rounds`; ``[]`` for single-round runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from motcoder.analysis.loading import AnalysisError, RunData, unique_labels
from motcoder.analysis.maintainability import maintainability_rows
from motcoder.analysis.modularity import modularity_rows
from motcoder.analysis.plots import analysis_figures
from motcoder.analysis.resources import compare_resources
from motcoder.analysis.rounds import round_rows
from motcoder.analysis.tables import analysis_tables, tables_markdown
from motcoder.runs import write_json

FIGURE_FILE = "analysis-{name}.png"
# Reports show text programs produced; what UTF-8 cannot encode (a lone surrogate in an error
# message) is written as its escape (\\ud800) instead of failing the whole report.
REPORT_ERRORS = "backslashreplace"


def _run_info(run: RunData) -> dict[str, Any]:
    return {"label": run.label, "path": str(run.path), "model": run.model,
            "benchmark": run.benchmark, "solver": run.solver, "style": run.style,
            "problems": len(run.difficulties), "solutions": len(run.finals),
            "passed": sum(f.passed for f in run.finals)}


def _pick_pair(runs: Sequence[RunData], pair: tuple[str, str] | None
               ) -> tuple[RunData, RunData] | None:
    if pair is None:
        return (runs[0], runs[1]) if len(runs) >= 2 else None
    by_label = {run.label: run for run in runs}
    unknown = [label for label in pair if label not in by_label]
    if unknown:
        raise AnalysisError(f"--pair: no run is labelled {unknown[0]!r}; the labels are "
                            f"{', '.join(repr(label) for label in by_label)}")
    if pair[0] == pair[1]:
        raise AnalysisError(f"--pair needs two different runs, got {pair[0]!r} twice")
    return by_label[pair[0]], by_label[pair[1]]


def analyze_runs(runs: list[RunData], pair: tuple[str, str] | None = None) -> dict[str, Any]:
    """Analyze ``runs`` (labels made unique first); see the module docstring for the keys."""
    if not runs:
        raise AnalysisError("nothing to analyze: give at least one run directory")
    runs = unique_labels(runs)
    chosen = _pick_pair(runs, pair)
    return {
        "runs": [_run_info(run) for run in runs],
        "modularity": {run.label: modularity_rows(run) for run in runs},
        "resources": compare_resources(*chosen) if chosen else None,
        "maintainability": {run.label: maintainability_rows(run) for run in runs},
        "rounds": {run.label: round_rows(run) for run in runs},
    }


EMPTY: dict[str, str] = {
    "resources": "Needs two runs: analyze two run directories (e.g. MoT and normal).",
    "rounds": "No run has more than one round or turn.",
}


def analysis_markdown(analysis: dict[str, Any]) -> list[str]:
    """Markdown lines of every section (``##`` headings, one table per run); a section
    without data says why."""
    return tables_markdown(analysis_tables(analysis), EMPTY)


def write_analysis(analysis: dict[str, Any], target: Path) -> list[str]:
    """Write ``analysis.json``, ``analysis.md`` (linking the figures) and one PNG per figure
    into the directory ``target``; return the names of the files written."""
    target.mkdir(parents=True, exist_ok=True)
    write_json(target / "analysis.json", analysis)
    figures = analysis_figures(analysis)
    lines = ["# motcoder analysis", "", *analysis_markdown(analysis)]
    if figures:
        lines += ["", "## Figures", ""]
    for name, png in figures.items():
        file = FIGURE_FILE.format(name=name)
        (target / file).write_bytes(png)
        lines += [f"![{name}]({file})", ""]
    (target / "analysis.md").write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8",
                                        errors=REPORT_ERRORS)
    return ["analysis.json", "analysis.md", *(FIGURE_FILE.format(name=n) for n in figures)]
