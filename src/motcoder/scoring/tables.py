"""Tables of a run summary (`motcoder.scoring.metrics.summarize`) for people.

`summary_table` builds a rich ``Table`` for the terminal; `summary_markdown` gives the same
rows as a Markdown table (readable as plain text) for reports. One row per difficulty, then
``all``; columns: problems, samples, pass@k for each reported k, strict accuracy, test pass
rate, and — when some sample was judged inside the untrusted process — how many were
(``in-child``) and how many of those passed there (``passed in child``; counted in the rates
only with ``--trust-in-child``, as the notes say). Rates are shown as percentages with two
decimals; a rate that was not computed is shown as ``n/a`` (the summary's notes say why).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table

NOT_AVAILABLE = "n/a"


def format_percent(value: float | None) -> str:
    """``0.34671`` → ``"34.67"``; ``None`` → ``"n/a"``."""
    return NOT_AVAILABLE if value is None else f"{100 * value:.2f}"


def _has_in_child(summary: Mapping[str, Any]) -> bool:
    """Whether some sample of the summary was judged inside the untrusted process."""
    return any(group.get("in_child_verdicts") for group in summary["groups"].values())


def summary_rows(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The header and rows (all strings) shared by every rendering."""
    ks = [str(k) for k in summary["ks"]]
    in_child = _has_in_child(summary)
    header = ["difficulty", "problems", "samples"]
    header += [f"pass@{k} %" for k in ks]
    header += ["strict acc %", "test pass rate %"]
    header += ["in-child", "passed in child"] if in_child else []
    rows = []
    for name, group in summary["groups"].items():
        row = [name, str(group["problems"]), str(group["samples"])]
        row += [format_percent(group["pass@k"][k]) for k in ks]
        row += [format_percent(group["strict_accuracy"]), format_percent(group["test_pass_rate"])]
        if in_child:  # summaries written before in_child_passed existed: n/a
            row += [str(group.get("in_child_verdicts", 0)),
                    str(group.get("in_child_passed", NOT_AVAILABLE))]
        rows.append(row)
    return header, rows


def summary_table(summary: Mapping[str, Any], title: str | None = None) -> Table:
    """A rich table of the summary; its notes become the caption."""
    header, rows = summary_rows(summary)
    notes = summary.get("notes") or []
    table = Table(title=title, caption="\n".join(notes) or None, caption_justify="left")
    table.add_column(header[0], style="bold")
    for name in header[1:]:
        table.add_column(name, justify="right")
    for i, row in enumerate(rows):
        table.add_row(*row, end_section=(i == len(rows) - 2))  # a rule above "all"
    return table


def markdown_lines(header: list[str], rows: list[list[str]], title: str | None = None
                   ) -> list[str]:
    """A Markdown table (right-aligned after the first column), with an optional title."""
    lines = [f"### {title}", ""] if title else []
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def summary_markdown(summary: Mapping[str, Any], title: str | None = None) -> str:
    """The summary as a Markdown table (plus title and notes), ending with a newline."""
    lines = markdown_lines(*summary_rows(summary), title)
    notes = summary.get("notes") or []
    if notes:
        lines.append("")
        lines += [f"* {note}" for note in notes]
    return "\n".join(lines) + "\n"


def rounds_rows(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Accuracy after each round of a multi-round solver (self-reflection, multi-turn):
    one row per round, pass@k over all problems if the solver had stopped there."""
    rounds = summary.get("rounds") or {}
    ks = [str(k) for k in summary["ks"]]
    header = ["after round"] + [f"pass@{k} %" for k in ks]
    rows = []
    for r, sub in sorted(rounds.items(), key=lambda item: int(item[0])):
        group = sub["groups"]["all"]
        rows.append([str(int(r) + 1)] + [format_percent(group["pass@k"][k]) for k in ks])
    return header, rows


def rounds_table(summary: Mapping[str, Any], title: str | None = None) -> Table | None:
    """A rich table of `rounds_rows`, or None for a single-round run."""
    header, rows = rounds_rows(summary)
    if not rows:
        return None
    table = Table(title=title)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def _pass_at(group: Mapping[str, Any], k: int) -> float | None:
    values = group["pass@k"]
    return values.get(k, values.get(str(k)))  # str keys once read back from summary.json


def comparison_rows(summaries: Mapping[str, Mapping[str, Any]], k: int = 1,
                    ) -> tuple[list[str], list[list[str]]]:
    """Several runs on the same problems side by side (MoTCoder's Table 2 shape): one row
    per run, pass@k % per difficulty, then over all problems."""
    groups: list[str] = []
    for summary in summaries.values():
        groups += [g for g in summary["groups"] if g not in groups and g != "all"]
    groups.append("all")
    header = ["model"] + groups
    rows = []
    for name, summary in summaries.items():
        cells = [format_percent(_pass_at(summary["groups"][g], k)) if g in summary["groups"]
                 else NOT_AVAILABLE for g in groups]
        rows.append([name] + cells)
    return header, rows


def comparison_table(summaries: Mapping[str, Mapping[str, Any]], k: int = 1,
                     title: str | None = None) -> Table:
    """A rich table of `comparison_rows`."""
    header, rows = comparison_rows(summaries, k)
    table = Table(title=title or f"pass@{k} %")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right", style="bold" if i == 0
                         else None)
    for row in rows:
        table.add_row(*row)
    return table


def comparison_markdown(summaries: Mapping[str, Mapping[str, Any]], k: int = 1,
                        title: str | None = None) -> str:
    """`comparison_rows` as a Markdown table."""
    return "\n".join(markdown_lines(*comparison_rows(summaries, k), title)) + "\n"
