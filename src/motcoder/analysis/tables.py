"""The analysis (`motcoder.analysis.analyze.analyze_runs`) as tables of strings: one
`AnalysisTable` per run and section, rendered as Markdown (`analysis_markdown`) or rich
tables (the CLI) from the same rows. Rates are percentages with two decimals; a value that
could not be computed is ``n/a``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from motcoder.analysis.modularity import BUCKETS
from motcoder.scoring.tables import NOT_AVAILABLE, format_percent, markdown_lines

SECTIONS: dict[str, str] = {
    "runs": "Runs",
    "modularity": "Modularity: accuracy by number of functions",
    "resources": "Resources of problems passed by both runs",
    "maintainability": "Maintainability of passing solutions (radon)",
    "rounds": "Accuracy per round / turn",
}


@dataclass
class AnalysisTable:
    """One table: its section, title, header and rows (all strings), and notes below it."""

    section: str
    title: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


def number(value: float | None, digits: int = 2) -> str:
    return NOT_AVAILABLE if value is None else f"{value:.{digits}f}"


def _runs_table(analysis: dict[str, Any]) -> AnalysisTable:
    header = ["run", "model", "benchmark", "solver", "style", "problems", "solutions",
              "passed", "directory"]
    rows = [[r["label"], *(str(r[k] or "-") for k in ("model", "benchmark", "solver",
                                                        "style")),
             str(r["problems"]), str(r["solutions"]), str(r["passed"]), r["path"]]
            for r in analysis["runs"]]
    return AnalysisTable("runs", SECTIONS["runs"], header, rows)


def _modularity_table(label: str, rows: list[dict[str, Any]]) -> AnalysisTable:
    header = ["difficulty", "solutions", "passed", "no code", "unparsable", "mean fn",
              "mean cls"]
    header += [f"{b} fn" for b in BUCKETS]
    body = []
    for row in rows:
        cells = [row["difficulty"], str(row["solutions"]), str(row["passed"]),
                 str(row["no_code"]), str(row["unparsable"]), number(row["mean_functions"]),
                 number(row["mean_classes"])]
        cells += [f"{format_percent(row['buckets'][b]['accuracy'])} "
                  f"({row['buckets'][b]['solutions']})" for b in BUCKETS]
        body.append(cells)
    return AnalysisTable("modularity", f"{SECTIONS['modularity']} — {label}", header, body,
                         ["k fn: accuracy % (solutions) of the solutions defining k functions "
                          "(def / async def anywhere, nested and methods included); one "
                          "solution per problem and sample (its final attempt)",
                          "mean fn / mean cls: functions / classes per passing solution"])


def _resources_table(section: dict[str, Any]) -> AnalysisTable:
    header = ["difficulty", "run", "problems", "CPU s mean", "CPU s median", "peak MB mean",
              "peak MB median"]
    body = []
    for row in section["rows"]:
        for label in section["pair"]:
            cpu, memory = row["cpu_time"][label], row["peak_memory_mb"][label]
            body.append([row["difficulty"], label, str(row["problems"]),
                         number(cpu["mean"], 3), number(cpu["median"], 3),
                         number(memory["mean"], 1), number(memory["median"], 1)])
    a, b = section["pair"]
    return AnalysisTable("resources", f"{SECTIONS['resources']} — {a} vs {b}", header, body,
                         [f"rule: {section['rule']}", *section["notes"]])


def _maintainability_table(label: str, rows: list[dict[str, Any]]) -> AnalysisTable:
    header = ["difficulty", "solutions", "skipped", "MI", "CC", "LOC", "SLOC"]
    body = [[r["difficulty"], str(r["solutions"]), str(r["skipped"]), number(r["mi"]),
             number(r["cc"]), number(r["loc"], 1), number(r["sloc"], 1)] for r in rows]
    return AnalysisTable("maintainability", f"{SECTIONS['maintainability']} — {label}",
                         header, body, ["means over passing final attempts; skipped: code "
                                        "radon cannot parse"])


def _rounds_table(label: str, rows: list[dict[str, Any]]) -> AnalysisTable:
    groups: list[str] = []
    for row in rows:
        groups += [g for g in row["by_difficulty"] if g not in groups]
    header = ["step", "accuracy %", "std %"] + [f"{g} %" for g in groups]
    body = [[f"{r['kind']} {r['step']}", format_percent(r["accuracy"]),
             format_percent(r["std"]) if r["std"] is not None else "-"]
            + [format_percent(r["by_difficulty"].get(g)) for g in groups] for r in rows]
    notes = [f"accuracy: {rows[0]['metric']}"] if rows else []
    return AnalysisTable("rounds", f"{SECTIONS['rounds']} — {label}", header, body, notes)


def analysis_tables(analysis: dict[str, Any]) -> list[AnalysisTable]:
    """Every table of the analysis, section by section (empty sections give none)."""
    tables = [_runs_table(analysis)]
    tables += [_modularity_table(label, rows)
               for label, rows in analysis["modularity"].items()]
    if analysis.get("resources"):
        tables.append(_resources_table(analysis["resources"]))
    tables += [_maintainability_table(label, rows)
               for label, rows in analysis["maintainability"].items()]
    tables += [_rounds_table(label, rows) for label, rows in analysis["rounds"].items()
               if rows]
    return tables


def tables_markdown(tables: list[AnalysisTable], empty: dict[str, str] | None = None
                    ) -> list[str]:
    """Markdown lines: a ``##`` heading per section (in `SECTIONS` order), a ``###`` table
    per run; a section without tables shows its text from ``empty``, or is left out."""
    lines: list[str] = []
    for section, heading in SECTIONS.items():
        mine = [t for t in tables if t.section == section]
        if not mine and not (empty and section in empty):
            continue
        lines += ["", f"## {heading}"]
        if not mine:
            lines += ["", empty[section]]  # type: ignore[index]
        for table in mine:
            cells = [[cell.replace("|", "/") for cell in row] for row in table.rows]
            lines += [""] + markdown_lines([h.replace("|", "/") for h in table.header],
                                           cells,
                                           table.title if table.title != heading else None)
            if table.notes:
                lines += [""] + [f"* {note}" for note in table.notes]
    return lines[1:]
