"""``motcoder analyze``: modularity, resources, maintainability and rounds of judged runs —
tables on the terminal, ``analysis.json``, ``analysis.md`` and PNG figures in ``--out``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from motcoder.cli.common import app, console, fail, out, user_errors

if TYPE_CHECKING:
    from motcoder.analysis.tables import AnalysisTable


def _rich(table: AnalysisTable) -> Table:
    """A rich table of one analysis table; its notes become the caption."""
    rendered = Table(title=escape(table.title), caption_justify="left",
                     caption="\n".join(escape(n) for n in table.notes) or None)
    for i, name in enumerate(table.header):
        rendered.add_column(escape(name), justify="left" if i == 0 else "right",
                            style="bold" if i == 0 else None, no_wrap=i == 0)
    for row in table.rows:
        rendered.add_row(*(escape(cell) for cell in row))
    return rendered


@app.command("analyze")
def analyze_command(
    runs: list[Path] = typer.Argument(..., help="Run directories of `motcoder run` or "
                                      "`motcoder evaluate`."),
    labels: list[str] | None = typer.Option(None, "--label", help="Name of a run in tables "
                                            "and plots; repeat once per run, in order "
                                            "(default: model + style/solver)."),
    pair: tuple[str, str] | None = typer.Option(None, "--pair", help="The two run labels "
                                                "whose resources are compared (default: "
                                                "the first two runs)."),
    out_dir: Path | None = typer.Option(None, "--out", help="Where analysis.json, "
                                        "analysis.md and the PNGs go (default: the first "
                                        "run directory)."),
) -> None:
    """Analyze judged runs: accuracy by number of functions, CPU time and peak memory of
    problems passed by both of two runs, radon maintainability, accuracy per round/turn."""
    from motcoder.analysis.analyze import analyze_runs, write_analysis
    from motcoder.analysis.loading import AnalysisError, load_runs
    from motcoder.analysis.tables import analysis_tables

    target = out_dir if out_dir is not None else runs[0]
    if target.exists() and not target.is_dir():
        raise fail(f"--out {target} is a file — give a directory")
    try:
        loaded = load_runs(runs, labels or None)
        analysis = analyze_runs(loaded, pair=pair if pair and all(pair) else None)
    except (*user_errors(), AnalysisError) as exc:
        raise fail(str(exc)) from None
    for table in analysis_tables(analysis):
        out.print(_rich(table))
    written = write_analysis(analysis, target)
    console.print(f"wrote {escape(', '.join(written))} to {escape(str(target))}")
